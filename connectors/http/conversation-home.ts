// Where a conversation a caller asks about is homed, for the conversation routes: in another
// unit (that unit answers, and checks membership), here, or in a remote geo (whose log then
// answers reads). A conversation this unit never heard of is found at the unit that counts
// the caller a member, for reads and actions alike (docs/units.md, acting from any unit).

import { ImflowError, isImflowError } from '../../ops/errors.js'
import type { ConversationLog } from '../../topologies/model/index.js'
import type { ConversationRouteOptions } from './conversation-routes.js'
import { HOME_READ_HEADER } from './home-routes.js'
import { locateHomeUnit, remoteHomeUnit, type UnitCaller, type UnitHomes } from './home-unit.js'

type Home =
  | { unit: string; units: UnitHomes }
  | { unit?: undefined; geo?: string; log: ConversationLog }

/** Who asks: the caller and their bearer token (a remote geo or unit is asked with it). */
type Caller = UnitCaller

/**
 * Where the caller's conversation is homed: in another unit this one only routes (that unit
 * answers, and checks membership: it knows every member, this one only those added through
 * it); here; or in a remote geo (whose log then answers reads). Not a member anywhere, or no
 * such conversation: the same answer, so existence does not leak.
 */
export async function homeOf(
  options: ConversationRouteOptions,
  conversationId: string,
  request: Caller,
): Promise<Home> {
  const userId = request.caller.sub
  const authorization = request.headers.authorization ?? ''
  const unit = await remoteHomeUnit(
    options.units,
    options.receiver,
    conversationId,
    request.headers,
  )
  if (unit !== undefined && options.units) return { unit, units: options.units }
  if (await options.receiver.isMember(conversationId, userId)) return { log: options.receiver }
  const geo =
    request.headers[HOME_READ_HEADER] === undefined
      ? await options.homes?.locate(conversationId, userId, authorization)
      : undefined
  if (geo === undefined || !options.homes) throw notMember(userId, conversationId)
  return { geo, log: options.homes.log(geo, authorization) }
}

/** Not a member anywhere, or no such conversation: the same answer, so existence does not leak. */
export const notMember = (userId: string, conversationId: string) =>
  new ImflowError('IMF_ERR_FORBIDDEN', `${userId} is not a member of ${conversationId}`)

/**
 * homeOf, and a conversation this unit never heard of (created through another unit's API) at
 * the unit that counts the caller a member: reads are asked there, and actions name it
 * (HOME_UNIT_HEADER), so this unit's receiver forwards them there.
 */
export async function readHomeOf(
  options: ConversationRouteOptions,
  conversationId: string,
  request: Caller,
): Promise<Home> {
  try {
    return await homeOf(options, conversationId, request)
  } catch (err) {
    if (!isImflowError(err, 'IMF_ERR_FORBIDDEN') || !options.units) throw err
    const unit = await locateHomeUnit(options.units, conversationId, request)
    if (unit === undefined) throw err
    return { unit, units: options.units }
  }
}
