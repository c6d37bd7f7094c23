// A user's own state — their conversation list and their PTS stream — is kept at their home
// unit (PUT /v1/users/:uid {unit}; docs/units.md). Asked of another unit's API, it is that
// home's answer to the same request, with the caller's token, so any unit's API shows the
// user one list and one stream. A request another API asked on is answered from what this
// unit keeps (never asked on again: two units that disagree for a moment cannot bounce it).
// A history page of a conversation homed elsewhere, for a user homed here, is merged here:
// the home's log with the private messages and deletions this unit's inbox keeps for them.

import { ImflowError } from '../../ops/errors.js'
import type { UserEvent } from '../../schemas/types.generated.js'
import { normalizeUnit, userHome } from '../../topologies/receiver/index.js'
import { movedHomeReason } from '../protocol/frames.js'
import { hopsOf, type UnitCaller, type UnitHomes } from './home-unit.js'
import type { Messaging } from './messaging.js'

export interface UserHomeReads {
  units?: UnitHomes
  users?: Messaging['users']
}

/** The caller's home unit when it is another unit whose API is listed here; else undefined. */
export function callerHomeUnit(
  { units, users }: UserHomeReads,
  request: UnitCaller,
): string | undefined {
  if (!units || !users || hopsOf(request.headers) > 0) return undefined
  return otherHomeUnit(users.current(request.caller.sub), units.local, units.urls)
}

/** The user's home unit when it is one of `remote` (unit -> its API or topics); else undefined. */
export function otherHomeUnit(
  user: UserEvent | undefined,
  local: number,
  remote: Readonly<Record<string, unknown>>,
): string | undefined {
  return userHome({ unit: user?.unit }, { geo: '', geos: {}, unit: local, units: remote })?.unit
}

/**
 * Why a device of a user homed in another unit is refused by this unit's push gateway: their
 * PTS stream is sequenced and pushed at their home (`urls`: the units' APIs, to name it).
 */
export function gatewayElsewhere(
  userOf: (userId: string) => UserEvent | undefined,
  local: number,
  remote: Readonly<Record<string, unknown>>,
  urls: Readonly<Record<string, string>>,
): (userId: string) => string | undefined {
  return (userId) => {
    const unit = otherHomeUnit(userOf(userId), local, remote)
    if (unit === undefined) return undefined
    return movedHomeReason(userId, unit, urls[unit])
  }
}

/** The caller's home unit's answer to this GET (path and query); undefined: answered here. */
export async function userHomeAnswer<T>(
  reads: UserHomeReads,
  request: UnitCaller & { url: string },
): Promise<T | undefined> {
  const unit = callerHomeUnit(reads, request)
  if (unit === undefined || !reads.units) return undefined
  const answer = await reads.units.homes.read<T>(
    unit,
    request.headers.authorization ?? '',
    request.url,
    1,
  )
  if (answer === undefined)
    throw new ImflowError(
      'IMF_ERR_FORBIDDEN',
      `${request.caller.sub}'s home unit ${unit} refused to answer ${request.url}`,
    )
  return answer
}

/**
 * Whether the caller is homed in this unit: their private messages and deletions of
 * conversations homed in any unit are in this unit's inbox.
 */
export function homedHere({ units, users }: UserHomeReads, request: UnitCaller): boolean {
  if (!units || !users) return false
  return normalizeUnit(users.current(request.caller.sub)?.unit ?? '') === String(units.local)
}
