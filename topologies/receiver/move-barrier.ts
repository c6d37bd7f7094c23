// A move's barrier (move-headers.ts): once a conversation's new home has the hand-over and the
// history, it sends an empty change through the old home, which sends it straight back. It
// comes back behind every change the new home had forwarded to the old home before, which the
// old home passes back to it; so the move completes (move-in.ts) only once those are here.

import type { ConversationEvent } from '../../schemas/types.generated.js'
import type { InputRecord } from '../runtime/index.js'
import { MOVE_BARRIER_HEADER } from './move-headers.js'
import { header } from './move-in.js'
import type { ReceiverTask } from './receiver-task.js'
import { forwardedHeaders, ORIGIN_UNIT_HEADER, originOf, unitSink } from './route-by-unit.js'

export const isMoveBarrier = (record: InputRecord) =>
  header(record, MOVE_BARRIER_HEADER) !== undefined

/** The barrier of the conversation's move here, through its old home `unit`. */
export async function sendMoveBarrier(
  task: ReceiverTask,
  unit: string,
  conversationId: string,
  at: number,
): Promise<void> {
  const { codecs } = task.options
  const event: ConversationEvent = {
    conversationId,
    actorId: null,
    at,
    change: { kind: 'MembersAdded', userIds: [] },
  }
  await task.forward.send(unitSink(unit, 'conversations'), {
    key: conversationId,
    value: codecs.conversationEvent.encode(event),
    headers: { [MOVE_BARRIER_HEADER]: '1', [ORIGIN_UNIT_HEADER]: String(task.options.unit) },
  })
}

/**
 * A barrier: back at the unit that sent it, it completes the move; at the old home it goes
 * straight back, behind the changes passed back before it. Never applied, never held: what
 * this unit holds of the conversation (moving here again) stays here, and holding the barrier
 * would hold the move that must hand it over first.
 */
export async function onMoveBarrier(
  task: ReceiverTask,
  record: InputRecord,
  event: ConversationEvent,
): Promise<void> {
  const cid = event.conversationId
  const origin = originOf(record)
  if (origin === String(task.options.unit)) return task.moves.barrierBack(cid)
  if (origin === undefined || !Object.hasOwn(task.options.units ?? {}, origin)) return
  await task.forward.send(unitSink(origin, 'conversations'), {
    key: cid,
    value: task.options.codecs.conversationEvent.encode(event),
    headers: {
      ...forwardedHeaders(record.headers, task.options.unit),
      [ORIGIN_UNIT_HEADER]: origin,
    },
  })
}
