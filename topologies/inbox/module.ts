// The inbox's module: how a deployment's wiring becomes its topology and queries.

import { defineModule } from '../runtime/index.js'
import { FANOUT, type TopologyWiring } from '../wiring.js'
import { inboxTopology } from './inbox.js'
import { InboxQueries } from './queries.js'

export const inboxModule = defineModule({
  name: 'inbox',
  build: (w: TopologyWiring) =>
    inboxTopology({ fanout: w.internalTopic(FANOUT), codec: w.fanoutCodec }),
  queries: (running) => new InboxQueries(running),
})
