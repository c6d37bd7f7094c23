// The inbox's module: how a deployment's wiring becomes its topology and queries.

import { geoSplit, unitTopics } from '../receiver/index.js'
import { defineModule } from '../runtime/index.js'
import { FANOUT, type TopologyWiring } from '../wiring.js'
import { inboxTopology } from './inbox.js'
import { InboxQueries } from './queries.js'

export const inboxModule = defineModule({
  name: 'inbox',
  paced: true,
  build: (w: TopologyWiring) => {
    const { remoteGeos, remoteUnits } = w.settings
    return inboxTopology({
      fanout: w.internalTopic(FANOUT),
      codec: w.fanoutCodec,
      // Only where other geos or units are configured can a user move to one.
      ...(Object.keys(remoteGeos).length + Object.keys(remoteUnits).length > 0
        ? {
            homeMove: {
              users: w.topic('im.users'),
              userCodec: w.codecs['im.users'],
              places: {
                geo: w.settings.geo,
                unit: w.settings.unit,
                geos: geoSplit(w).inbound,
                units: Object.fromEntries(
                  Object.entries(unitTopics(w)).map(([unit, topics]) => [unit, topics.inbound]),
                ),
              },
              userOf: (userId) => w.userOf(userId),
              ...(w.remoteTargets ? { remoteTargets: w.remoteTargets } : {}),
            },
          }
        : {}),
    })
  },
  queries: (running) => new InboxQueries(running),
})
