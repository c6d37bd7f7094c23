// Users' homes: every user has a home geo and, inside it, may have a home unit (both on
// im.users). A recipient homed in another geo or unit gets their share of an event there —
// one forwarded record per geo or unit, to its inbound — and that deployment keeps their list,
// unread counts, PTS stream and pushes. Everyone else is handed on here. A geo wins over a
// unit: units are cells of one geo. A home no one here can forward to counts as here.

import { geoSink } from './route-by-geo.js'
import { normalizeUnit, unitSink } from './route-by-unit.js'

/** Where a user is homed when it is not here: another geo, or another unit of this geo. */
export type UserHome = { geo: string; unit?: undefined } | { unit: string; geo?: undefined }

/** This deployment's geo and unit and the other geos and units it forwards to. */
export interface HomePlaces {
  geo: string
  geos: Readonly<Record<string, unknown>>
  unit: number
  units: Readonly<Record<string, unknown>>
}

/** A user's home as im.users has it (geo, unit), when it is another geo or unit listed here. */
export function userHome(
  user: { geo?: string | undefined; unit?: string | null | undefined },
  places: HomePlaces,
): UserHome | undefined {
  const { geo } = user
  if (geo !== undefined && geo !== places.geo && Object.hasOwn(places.geos, geo)) return { geo }
  // Most users have no home unit: no parsing for them (a large group asks for each member).
  if (!user.unit) return undefined
  const unit = normalizeUnit(user.unit)
  if (unit !== '' && unit !== String(places.unit) && Object.hasOwn(places.units, unit))
    return { unit }
  return undefined
}

/** One name per home, for maps and sinks: "geo:us", "unit:1". */
export function homeName(home: UserHome): string {
  return home.geo !== undefined ? `geo:${home.geo}` : `unit:${home.unit}`
}

/** Recipients split by home: here (`local`) and each other home's share, by home name. */
export function splitByHome(
  recipients: readonly string[],
  homeOf: (userId: string) => UserHome | undefined,
): { local: string[]; remote: Map<string, { home: UserHome; users: string[] }> } {
  const local: string[] = []
  const remote = new Map<string, { home: UserHome; users: string[] }>()
  for (const userId of recipients) {
    const home = homeOf(userId)
    if (!home) {
      local.push(userId)
      continue
    }
    const name = homeName(home)
    const share = remote.get(name)
    if (share) share.users.push(userId)
    else remote.set(name, { home, users: [userId] })
  }
  return { local, remote }
}

/** The sink of a home's inbound topic (its share of an event, split there by its user partitions). */
export function inboundSink(home: UserHome): string {
  return home.geo !== undefined ? `geo:${home.geo}` : unitSink(home.unit, 'inbound')
}

/** The sink of a home's im.rooms (large groups' events, for its gateways). */
export function roomsSink(home: UserHome): string {
  return home.geo !== undefined ? geoSink(home.geo, 'rooms') : unitSink(home.unit, 'rooms')
}
