// Units (IMFLOW_REMOTE_UNIT_URLS): a unit that only routes a conversation keeps none of its
// log, read cursors or merged totals, and knows only the members added through it. Every
// read made through this unit's API, and the membership check before an action, is the home
// unit's answer to the same request of its own /v1 API, asked with the caller's token
// (home-client.ts). A unit asked so answers from what it keeps — or, when it has moved the
// conversation on, asks the home it knows in turn, a bounded number of times.

import { ImflowError } from '../../ops/errors.js'
import type { ConversationLog } from '../../topologies/model/index.js'
import {
  HOME_GEO_HEADER,
  HOME_UNIT_HEADER,
  normalizeUnit,
  type ReceiverQueries,
} from '../../topologies/receiver/index.js'
import type { ConversationListEntry } from '../protocol/api-responses.js'
import type { GeoHomes } from './home-client.js'
import { HOME_READ_HEADER, MAX_HOME_READ_HOPS } from './home-routes.js'

export interface UnitHomes {
  /** This deployment's unit (IMFLOW_UNIT). */
  local: number
  homes: GeoHomes
  /** Remote unit -> its API's base URL. */
  urls: Readonly<Record<string, string>>
}

/** A request's headers: another API's mark counts the APIs it went through. */
export type PeerHeaders = Readonly<Record<string, string | string[] | undefined>>

/** Who asks: the caller, their bearer token (the home is asked with it) and the request's marks. */
export type UnitCaller = {
  caller: { sub: string }
  headers: { authorization?: string } & PeerHeaders
}

/** How many APIs asked on before this one (0: a client asked). */
export function hopsOf(headers: PeerHeaders): number {
  const value = headers[HOME_READ_HEADER]
  const one = Array.isArray(value) ? value.at(-1) : value
  if (one === undefined) return 0
  const n = Number(one)
  return Number.isInteger(n) && n > 0 ? n : MAX_HOME_READ_HOPS
}

/**
 * The unit whose API answers reads of the conversation: its home, when that is another unit
 * whose API is listed here (this one only routes it) and the read has not been asked on too
 * often; else undefined: the answer is here.
 */
export async function remoteHomeUnit(
  units: UnitHomes | undefined,
  receiver: Pick<ReceiverQueries, 'conversation'>,
  conversationId: string,
  headers: PeerHeaders = {},
): Promise<string | undefined> {
  if (!units || hopsOf(headers) >= MAX_HOME_READ_HOPS) return undefined
  const meta = await receiver.conversation(conversationId)
  const unit = normalizeUnit(meta?.unit ?? '')
  if (unit === '' || unit === String(units.local) || !Object.hasOwn(units.urls, unit))
    return undefined
  return unit
}

/**
 * The unit a conversation this unit has never heard of is kept at (it was created through
 * another unit's API; a user homed here has its list row and room events here): the first
 * unit whose API counts the caller a member (home-client.ts `locate`, kept 30 s). That unit
 * answers as its home, following its moves (asked on, the read counts one more API, so the
 * bound holds). Undefined: none does, or the read has been asked on too often.
 */
export async function locateHomeUnit(
  units: UnitHomes | undefined,
  conversationId: string,
  request: UnitCaller,
): Promise<string | undefined> {
  if (!units || hopsOf(request.headers) >= MAX_HOME_READ_HOPS) return undefined
  const authorization = request.headers.authorization ?? ''
  return units.homes.locate(conversationId, request.caller.sub, authorization)
}

/**
 * The headers of an action or message written here for a conversation homed elsewhere: its
 * home, so this unit's receiver forwards it there even if it never heard of the conversation
 * (one it knows goes where it knows). None: decided here.
 */
export function homeHeaders(home: { unit?: string; geo?: string }): Record<string, string> {
  if (home.unit !== undefined) return { [HOME_UNIT_HEADER]: home.unit }
  if (home.geo !== undefined) return { [HOME_GEO_HEADER]: home.geo }
  return {}
}

/**
 * The home unit's answer to a GET of its /v1 API (path and query), asked with the caller's
 * token. It says no (not a member there) → 403 here too: not a member, or no such
 * conversation, one answer, so existence does not leak.
 */
export async function homeUnitAnswer<T>(
  units: UnitHomes,
  unit: string,
  request: UnitCaller,
  conversationId: string,
  path: string,
): Promise<T> {
  const authorization = request.headers.authorization ?? ''
  const hops = hopsOf(request.headers) + 1
  const answer = await units.homes.read<T>(unit, authorization, path, hops)
  if (answer === undefined)
    throw new ImflowError(
      'IMF_ERR_FORBIDDEN',
      `${request.caller.sub} is not a member of ${conversationId} at its home unit ${unit}`,
    )
  return answer
}

const entryPath = (cid: string) => `/v1/conversations/${encodeURIComponent(cid)}`

/** The caller's list entry at the conversation's home unit: 403 unless a member there. */
export function homeUnitEntry(
  units: UnitHomes,
  unit: string,
  request: UnitCaller,
  conversationId: string,
): Promise<ConversationListEntry> {
  return homeUnitAnswer(units, unit, request, conversationId, entryPath(conversationId))
}

/**
 * The conversation's log at its home unit, read page by page with the caller's token, for a
 * member there (403 otherwise): a user homed here has their history merged here
 * (user-home-reads.ts).
 */
export async function homeUnitLog(
  units: UnitHomes,
  unit: string,
  request: UnitCaller,
  conversationId: string,
): Promise<ConversationLog> {
  await homeUnitEntry(units, unit, request, conversationId)
  return units.homes.log(unit, request.headers.authorization ?? '')
}
