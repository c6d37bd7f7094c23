// PATCH /v1/conversations/:cid {unit} (and POST /v1/conversations {unit}): what this unit can
// tell before the move (or the creation) is written.
// A move travels on im.conversations to the conversation's home, which makes it; a move that
// could never be made there would otherwise be answered 202 and then do nothing (the receiver
// ignores a change of a conversation it does not know) or break the conversation (a home
// named that no unit can forward to). So it is refused here, with the reason, and nothing is
// written. The home checks again (move-relay.ts): its configuration may differ.

import { ImflowError, isImflowError } from '../../ops/errors.js'
import { normalizeUnit } from '../../topologies/receiver/index.js'
import type { Messaging } from './messaging.js'

type UnitNames = NonNullable<Messaging['unitNames']>

const reachable = (names: UnitNames, unit: string) => {
  const n = normalizeUnit(unit)
  return n === '' || n === String(names.local) || names.remote.includes(n)
}

/**
 * Refuses a home this unit cannot forward to (IMF_ERR_UNIT_UNREACHABLE): at creation too, a
 * conversation homed there would have every message answered UNKNOWN_UNIT.
 */
export function checkUnit(messaging: Pick<Messaging, 'unitNames'>, unit: string): void {
  const names = messaging.unitNames
  if (!names || reachable(names, unit)) return
  throw new ImflowError(
    'IMF_ERR_UNIT_UNREACHABLE',
    `unit ${normalizeUnit(unit)} is neither unit ${names.local} nor in its IMFLOW_REMOTE_UNITS (${names.remote.join(', ') || 'none'}): neither the history nor the messages could get there`,
  )
}

/** Refuses the move (IMF_ERR_UNIT_UNREACHABLE, or 404 for a conversation not known here). */
export async function checkMove(
  messaging: Pick<Messaging, 'unitNames' | 'queries'>,
  conversationId: string,
  unit: string,
): Promise<void> {
  const names = messaging.unitNames
  if (!names) return
  checkUnit(messaging, unit)
  const receiver = messaging.queries?.receiver
  if (!receiver) return
  const meta = await receiver.conversation(conversationId).catch((err) => {
    // Its partition is not served here now: the home decides alone.
    if (isImflowError(err, 'IMF_ERR_NOT_READY')) return 'unreadable' as const
    throw err
  })
  if (meta === 'unreadable') return
  if (!meta)
    throw new ImflowError(
      'IMF_ERR_NOT_FOUND',
      `conversation ${conversationId} is not known to unit ${names.local} (yet): a move goes through a unit that knows it`,
    )
  if (!reachable(names, meta.unit))
    throw new ImflowError(
      'IMF_ERR_UNIT_UNREACHABLE',
      `conversation ${conversationId} is homed in unit ${normalizeUnit(meta.unit)}, which is not in IMFLOW_REMOTE_UNITS of unit ${names.local}: the move could not be passed on to it`,
    )
}
