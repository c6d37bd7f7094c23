// The inbox's module: how a deployment's wiring becomes its topology and queries.

import { geoSplit } from '../receiver/index.js'
import { defineModule } from '../runtime/index.js'
import { FANOUT, type TopologyWiring } from '../wiring.js'
import { inboxTopology } from './inbox.js'
import { InboxQueries } from './queries.js'

export const inboxModule = defineModule({
  name: 'inbox',
  build: (w: TopologyWiring) =>
    inboxTopology({
      fanout: w.internalTopic(FANOUT),
      codec: w.fanoutCodec,
      // Only where other geos are configured can a user move to one.
      ...(Object.keys(w.settings.remoteGeos).length > 0
        ? {
            geoMove: {
              users: w.topic('im.users'),
              userCodec: w.codecs['im.users'],
              local: w.settings.geo,
              inbound: geoSplit(w).inbound,
              ...(w.remoteTargets ? { remoteTargets: w.remoteTargets } : {}),
            },
          }
        : {}),
    }),
  queries: (running) => new InboxQueries(running),
})
