// Sync's module: how a deployment's wiring becomes its topology and queries.

import { defineModule } from '../runtime/index.js'
import { FANOUT, type TopologyWiring } from '../wiring.js'
import { SyncQueries } from './queries.js'
import { syncTopology } from './sync.js'

export const syncModule = defineModule({
  name: 'sync',
  build: (w: TopologyWiring) =>
    syncTopology({
      topics: {
        fanout: w.internalTopic(FANOUT),
        deviceEvents: w.topic('im.device-events'),
        sync: w.topic('im.sync'),
        notify: w.topic('im.notify'),
      },
      codecs: {
        fanoutBatch: w.fanoutCodec,
        deviceEvent: w.codecs['im.device-events'],
        syncEnvelope: w.codecs['im.sync'],
        notification: w.codecs['im.notify'],
      },
      settings: w.settings.sync,
    }),
  queries: (running, w: TopologyWiring) => new SyncQueries(running, w.settings.sync),
})
