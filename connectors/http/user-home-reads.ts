// A user's own state — their conversation list and their PTS stream — is kept at their home
// unit (PUT /v1/users/:uid {unit}; docs/units.md). Asked of another unit's API, it is that
// home's answer to the same request, with the caller's token, so any unit's API shows the
// user one list and one stream. A request another API asked on is answered from what this
// unit keeps (never asked on again: two units that disagree for a moment cannot bounce it).
// A history page of a conversation homed elsewhere, for a user homed here, is merged here:
// the home's log with the private messages and deletions this unit's inbox keeps for them.

import { ImflowError } from '../../ops/errors.js'
import { normalizeUnit } from '../../topologies/receiver/index.js'
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
  const unit = normalizeUnit(users.current(request.caller.sub)?.unit ?? '')
  if (unit === '' || unit === String(units.local) || !Object.hasOwn(units.urls, unit))
    return undefined
  return unit
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
