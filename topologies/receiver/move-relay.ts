// A move made through a unit that has not heard of an earlier one: its view of the home is
// stale. A unit that only routes a conversation passes a move to the home it knows
// (route-by-unit.ts); if that unit has moved the conversation on meanwhile, it passes the move
// on to the home it knows in turn, so the real home applies it — after the earlier move,
// whose history it waits for first (move-in.ts) — and hands the conversation over. One home
// at every moment: a unit becomes the home only through its old home's hand-over, or a move
// made through itself, of which the old home hears.

import { ImflowError } from '../../ops/errors.js'
import type { ConversationEvent } from '../../schemas/types.generated.js'
import type { ConversationMeta } from '../model/index.js'
import type { InputRecord } from '../runtime/index.js'
import { MOVE_REQUEST_HEADER } from './move-headers.js'
import { header } from './move-in.js'
import type { ReceiverTask } from './receiver-task.js'
import { originOf } from './route-by-unit.js'

/**
 * Units a move is passed on through at most. Each pass goes one move further along the
 * conversation's moves, so this bounds only a loop between misconfigured units.
 */
export const MAX_MOVE_RELAYS = 8

/** Not applied, not passed on: the units' lists (IMFLOW_REMOTE_UNITS) disagree. */
function unreachable(what: string): ImflowError {
  return new ImflowError(
    'IMF_ERR_UNIT_UNREACHABLE',
    `${what}: not applied here; the units must list each other (IMFLOW_REMOTE_UNITS)`,
  )
}

/**
 * A move passed here as to the conversation's home. Here is the home: applied as ever. Not
 * the home any more: passed on to the home known here, and applied to this unit's view only
 * when it moves the conversation to another unit (to this one, it comes with the real home's
 * hand-over). Nowhere to pass it on (a unit not listed, back to the unit that sent it, or too
 * many passes): not applied here, and the unit that sent it keeps routing to the old home.
 * A move to a unit not listed here is applied nowhere: not here, not passed on. Either is a
 * configuration the units disagree on: the move is dead-lettered with what to fix (thrown
 * before anything is written), never dropped unseen.
 */
export async function relayMove(
  task: ReceiverTask,
  record: InputRecord,
  event: ConversationEvent,
  before: ConversationMeta | undefined,
): Promise<'apply' | 'skip'> {
  if (event.change.kind !== 'UnitChanged' || !before) return 'apply'
  // Only to a unit this one reaches: neither history nor messages could get anywhere else, and
  // the conversation would be left homed nowhere (the API refuses such a move up front).
  const to = event.change.unit
  const cid = event.conversationId
  if (!task.route.isLocal(to) && task.route.remote(to) === undefined)
    throw unreachable(`a move of ${cid} to unit ${to}, which is neither this unit nor listed`)
  const relays = header(record, MOVE_REQUEST_HEADER)
  if (relays === undefined) return 'apply'
  if (task.route.isLocal(before.unit)) return 'apply'
  const home = task.route.remote(before.unit)
  const passes = Number(relays)
  if (home === undefined)
    throw unreachable(`a move of ${cid}, homed in unit ${before.unit}, which is not listed`)
  if (home === originOf(record))
    throw unreachable(
      `a move of ${cid}: this unit and the one that sent it each take the other for its home`,
    )
  if (!(passes < MAX_MOVE_RELAYS))
    throw unreachable(`a move of ${cid} passed on ${passes} times without reaching its home`)
  await task.route.passOn(home, event, passes + 1)
  return task.route.isLocal(event.change.unit) ? 'skip' : 'apply'
}
