// A large group's head (its newest seq) for a push gateway's devices, asked where the group
// is kept: here, at its home unit (this unit only routes it), or at its home geo (the user
// is homed here, the group there; its room events come here, docs/sync.md) — also one this
// unit never heard of, for a user homed here (docs/units.md). Undefined when
// the user is not a member there now, or the group is not large.

import { isImflowError } from '../../ops/errors.js'
import { isLargeGroup } from '../../topologies/model/index.js'
import type { ReceiverQueries } from '../../topologies/receiver/index.js'
import type { RoomHead } from '../protocol/frames.js'
import type { GeoHomes } from './home-client.js'
import { homeUnitEntry, locateHomeUnit, remoteHomeUnit, type UnitHomes } from './home-unit.js'

export interface LargeGroupHomes {
  units?: UnitHomes
  geos?: GeoHomes
}

export interface HeadRequest {
  conversationId: string
  userId: string
  token: string
  threshold: number
}

export async function largeGroupHead(
  homes: LargeGroupHomes,
  receiver: ReceiverQueries,
  request: HeadRequest,
): Promise<RoomHead | undefined> {
  const { conversationId, userId, threshold } = request
  const unit = await remoteHomeUnit(homes.units, receiver, conversationId)
  if (unit !== undefined && homes.units) return unitHead(homes.units, unit, receiver, request)
  const here = await receiver.largeGroupHead(conversationId, userId, threshold)
  if (here || (await receiver.conversation(conversationId))) return here
  // Never heard of here: kept at another unit (the user is homed here) or geo.
  const caller = { caller: { sub: userId }, headers: { authorization: `Bearer ${request.token}` } }
  const at = await locateHomeUnit(homes.units, conversationId, caller)
  if (at !== undefined && homes.units) return unitHead(homes.units, at, receiver, request)
  return homes.geos ? geoHead(homes.geos, request) : undefined
}

/** As the home unit counts it; a home that does not answer costs the group its freshness (this unit's view), not the user's log-in. */
async function unitHead(
  units: UnitHomes,
  unit: string,
  receiver: ReceiverQueries,
  { conversationId, userId, token, threshold }: HeadRequest,
): Promise<RoomHead | undefined> {
  const caller = { caller: { sub: userId }, headers: { authorization: `Bearer ${token}` } }
  const entry = await homeUnitEntry(units, unit, caller, conversationId).catch((err) => {
    if (isImflowError(err, 'IMF_ERR_FORBIDDEN')) return undefined
    if (isImflowError(err, 'IMF_ERR_PEER_UNAVAILABLE')) return 'unavailable' as const
    throw err
  })
  if (entry === 'unavailable') return receiver.largeGroupHead(conversationId, userId, threshold)
  return entry?.large ? { conversationId, seq: entry.seq ?? 0 } : undefined
}

/** As its home geo counts it (which checks membership). */
async function geoHead(geos: GeoHomes, request: HeadRequest): Promise<RoomHead | undefined> {
  const { conversationId, userId, token, threshold } = request
  const at = await homeGeoSequence(geos, conversationId, userId, `Bearer ${token}`)
  return at && isLargeGroup(at.memberCount, threshold) ? { conversationId, seq: at.seq } : undefined
}

/**
 * A conversation's size and seq at its home geo, asked with the caller's token; undefined
 * when no geo counts the caller a member, or the home does not answer (then the next look-up
 * asks again).
 */
export async function homeGeoSequence(
  geos: GeoHomes,
  conversationId: string,
  userId: string,
  authorization: string,
): Promise<{ memberCount: number; seq: number } | undefined> {
  try {
    const geo = await geos.locate(conversationId, userId, authorization)
    return geo === undefined
      ? undefined
      : await geos.log(geo, authorization).sequence(conversationId)
  } catch (err) {
    if (isImflowError(err, 'IMF_ERR_PEER_UNAVAILABLE') || isImflowError(err, 'IMF_ERR_FORBIDDEN'))
      return undefined
    throw err
  }
}
