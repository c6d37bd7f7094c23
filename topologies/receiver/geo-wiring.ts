// Other geos as a deployment's wiring names them, for every topology that hands work to
// them (the receiver, the merge): users' homes, each geo's inbound and contract topics.

import { INBOUND, type TopologyWiring } from '../wiring.js'
import type { GeoSplit } from './receiver-options.js'

export function geoSplit(w: TopologyWiring): GeoSplit {
  const remote = Object.entries(w.settings.remoteGeos)
  return {
    local: w.settings.geo,
    geoOf: (userId) => w.geoOf(userId),
    // Each geo's deployment reads its inbound topic under its own prefix.
    inbound: Object.fromEntries(remote.map(([geo, r]) => [geo, w.remoteInternalTopic(r, INBOUND)])),
    // Acting from home: what its users write to conversations homed here, and back.
    homes: Object.fromEntries(
      remote.map(([geo, r]) => [
        geo,
        {
          ingest: w.remoteTopic(r.prefix, 'im.ingest'),
          actions: w.remoteTopic(r.prefix, 'im.actions'),
          receipts: w.remoteTopic(r.prefix, 'im.receipts'),
          rooms: w.remoteTopic(r.prefix, 'im.rooms'),
        },
      ]),
    ),
  }
}
