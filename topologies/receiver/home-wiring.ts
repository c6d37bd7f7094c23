// Other geos and units as a deployment's wiring names them, for every topology that hands
// work to them (the receiver, the inbox, the merge): users' homes, each geo's and unit's
// inbound and contract topics.

import { INBOUND, type TopologyWiring } from '../wiring.js'
import type { GeoSplit } from './receiver-options.js'
import type { UnitTopics } from './route-by-unit.js'
import { type HomePlaces, inboundSink, roomsSink, type UserHome, userHome } from './user-home.js'

export function geoSplit(w: TopologyWiring): GeoSplit {
  const remote = Object.entries(w.settings.remoteGeos)
  return {
    local: w.settings.geo,
    geoOf: (userId) => w.userOf(userId)?.geo,
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

/** Each other unit's topics: each unit's deployment reads them under its own prefix. */
export function unitTopics(w: TopologyWiring): Record<string, Required<UnitTopics>> {
  return Object.fromEntries(
    Object.entries(w.settings.remoteUnits).map(([unit, prefix]) => [
      unit,
      {
        ingest: w.remoteTopic(prefix, 'im.ingest'),
        conversations: w.remoteTopic(prefix, 'im.conversations'),
        actions: w.remoteTopic(prefix, 'im.actions'),
        receipts: w.remoteTopic(prefix, 'im.receipts'),
        // Users homed there: their share of what is handed off, and large groups' events.
        // Units share this deployment's app id.
        inbound: w.remoteInternalTopic({ prefix, appId: w.settings.appId }, INBOUND),
        rooms: w.remoteTopic(prefix, 'im.rooms'),
      },
    ]),
  )
}

/** Users homed in another geo or unit, and the sinks of those homes' inbound and rooms. */
export interface UserHomes {
  homeOf(userId: string): UserHome | undefined
  readonly sinks: Readonly<Record<string, { topic: string }>>
}

export function userHomes(w: TopologyWiring): UserHomes {
  const geos = geoSplit(w)
  const units = unitTopics(w)
  const places: HomePlaces = {
    geo: geos.local,
    geos: geos.inbound,
    unit: w.settings.unit,
    units,
  }
  const sinks: Record<string, { topic: string }> = {}
  const add = (home: UserHome, inbound: string, rooms: string) => {
    sinks[inboundSink(home)] = { topic: inbound }
    sinks[roomsSink(home)] = { topic: rooms }
  }
  // geoSplit names both topics for the same geos.
  for (const [geo, { rooms }] of Object.entries(geos.homes ?? {}))
    add({ geo }, geos.inbound[geo] as string, rooms)
  for (const [unit, topics] of Object.entries(units)) add({ unit }, topics.inbound, topics.rooms)
  return {
    homeOf: (userId) => {
      const user = w.userOf(userId)
      return user ? userHome(user, places) : undefined
    },
    sinks,
  }
}
