// Sync's module: how a deployment's wiring becomes its topology and queries.

import { geoSplit, homeName, unitTopics, userHome } from '../receiver/index.js'
import { defineModule } from '../runtime/index.js'
import { FANOUT, type TopologyWiring } from '../wiring.js'
import { SyncQueries } from './queries.js'
import { syncTopology } from './sync.js'
import type { SyncHomes } from './user-moves.js'

export const syncModule = defineModule({
  name: 'sync',
  build: (w: TopologyWiring) =>
    syncTopology({
      ...homes(w),
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

/** Only where other geos or units are configured can a user move to one (as the inbox's). */
function homes(w: TopologyWiring): { homes?: SyncHomes } {
  const { remoteGeos, remoteUnits, geo, unit } = w.settings
  if (Object.keys(remoteGeos).length + Object.keys(remoteUnits).length === 0) return {}
  const places = { geo, unit, geos: geoSplit(w).inbound, units: unitTopics(w) }
  return {
    homes: {
      users: w.topic('im.users'),
      userCodec: w.codecs['im.users'],
      away: (user) => {
        const home = userHome(user, places)
        return home && homeName(home)
      },
    },
  }
}
