// Moving a conversation between units (`PATCH /v1/conversations/:cid {unit}`), as each unit's
// receiver sees the change: the old home sends its history and stops keeping it (move-out.ts);
// the new home holds the conversation's traffic until the history and the hand-over are both
// there (move-in.ts). The change itself travels as ever (route-by-unit.ts).

import type { ConversationEvent } from '../../schemas/types.generated.js'
import type { ConversationMeta } from '../model/index.js'
import type { InputRecord } from '../runtime/index.js'
import { HANDOVER_HEADER } from './move-headers.js'
import { header } from './move-in.js'
import type { ReceiverTask } from './receiver-task.js'
import { originOf } from './route-by-unit.js'

export async function moveOnChange(
  task: ReceiverTask,
  record: InputRecord,
  event: ConversationEvent,
  before: ConversationMeta | undefined,
  after: ConversationMeta | undefined,
): Promise<void> {
  if (!after) return
  const cid = event.conversationId
  const here = task.route.isLocal(after.unit)
  // Handed over by the unit that made the move: its last event names the history's source.
  const handover = header(record, HANDOVER_HEADER)
  if (handover !== undefined && here) return task.moves.movedHere(cid, handover || undefined)
  if (event.change.kind !== 'UnitChanged' || !before) return
  const wasHere = task.route.isLocal(before.unit)
  const to = task.route.remote(after.unit)
  // Leaving: whoever made the move, the history goes from here to the new home.
  if (wasHere && to !== undefined) {
    await task.movesOut.start(record, cid, after, to)
    // A move in that never completed: what waited for it follows the conversation, behind its history.
    await task.moves.release(cid)
    return
  }
  // Moved here through this unit's own API: the old home (or the home it has moved on to,
  // move-relay.ts) hands it over and sends the history when it hears of the move; until then
  // what comes for it waits. Homed in no unit known here: no history will come.
  if (!wasHere && here && originOf(record) === undefined) {
    const from = task.route.remote(before.unit)
    if (from === undefined) await task.moves.movedHere(cid, undefined)
    else await task.moves.awaitHandOver(cid)
  }
}
