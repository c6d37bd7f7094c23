// The inbox's module: how a deployment's wiring becomes its topology and queries.

import { defineModule } from '../runtime/index.js'
import { FANOUT, INBOUND, type TopologyWiring } from '../wiring.js'
import { inboxTopology } from './inbox.js'
import { InboxQueries } from './queries.js'

export const inboxModule = defineModule({
  name: 'inbox',
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
                geos: Object.fromEntries(
                  Object.entries(remoteGeos).map(([geo, remote]) => [
                    geo,
                    w.remoteInternalTopic(remote, INBOUND),
                  ]),
                ),
                // Units share this deployment's app id (as the receiver forwards to them).
                units: Object.fromEntries(
                  Object.entries(remoteUnits).map(([unit, prefix]) => [
                    unit,
                    w.remoteInternalTopic({ prefix, appId: w.settings.appId }, INBOUND),
                  ]),
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
