// A change on im.conversations: applied to the conversation and its roster (forwarded to its
// home unit when that is another one; a move between units takes its history along,
// move-conversation.ts); members who joined or left are told, every member is told when the
// group crosses the large-group threshold or its mute state changes.

import type { ConversationEvent } from '../../schemas/types.generated.js'
import { isLargeGroup } from '../model/index.js'
import type { InputRecord } from '../runtime/index.js'
import { moveOnChange } from './move-conversation.js'
import { isHandOverPart } from './move-in.js'
import { relayMove } from './move-relay.js'
import type { ReceiverTask } from './receiver-task.js'
import { crossedThreshold } from './room-sequence.js'

export async function onConversationEvent(
  task: ReceiverTask,
  record: InputRecord,
  event: ConversationEvent,
): Promise<void> {
  const { conversations } = task
  const cid = event.conversationId
  const before = await conversations.get(cid)
  // A move that came here as to the home, though the conversation has moved on: passed on.
  if ((await relayMove(task, record, event, before)) === 'skip') return
  const { joined, left } = await conversations.apply(event)
  const after = await conversations.get(cid)
  const handedOver = isHandOverPart(record)
  // Handed over by its old home to this unit, which only routed it (or took the move through
  // its own API, and has waited for the hand-over since): the members it kept are those added
  // through it (forwarded to the home, and those that reached it after the move come back
  // here), not the home's. The hand-over's roster replaces them.
  if (
    handedOver &&
    event.change.kind === 'UnitChanged' &&
    task.route.isLocal(event.change.unit) &&
    before &&
    (!task.route.isLocal(before.unit) || (await task.moves.holds(cid)))
  )
    await conversations.forgetMembers(cid)
  if (after) {
    await task.route.forwardChange(record, event, before, after, () => conversations.roster(cid))
    await moveOnChange(task, record, event, before, after)
    // Its home unit tells the members; here the conversation is only known, to route.
    if (!task.route.isLocal(after.unit)) return
  }
  // The old home's state, told there: applied, nobody told again.
  if (handedOver) return
  const at = `${cid}:${record.offset}`
  const membership = (member: boolean) => ({
    priority: 'LOW' as const,
    payload: { kind: 'MembershipChanged' as const, conversationId: cid, member },
  })
  if (joined.length) await task.handOff(cid, joined, `joined:${at}`, membership(true), true)
  if (left.length) await task.handOff(cid, left, `left:${at}`, membership(false), true)
  // The gateways stop pushing a large group to those who left before its next message:
  // their PTS stream, which tells their devices, comes by another road at its own pace.
  if (left.length && before && isLargeGroup(before.memberCount, task.largeGroupThreshold))
    await task.toRoom(cid, 0, membership(false), left)
  const changed = (description: string) => ({
    priority: 'LOW' as const,
    payload: { kind: 'ConversationChanged' as const, conversationId: cid, description },
  })
  const everyone = async (description: string) =>
    task.handOff(
      cid,
      await conversations.members(cid),
      `changed:${at}`,
      changed(description),
      false,
    )
  // Devices switch between per-user PTS and the conversation's seq: each member is told
  // once, and refreshes the conversation (its kind and seq) from the list.
  const crossed = after && crossedThreshold(before, after, task.largeGroupThreshold)
  if (crossed) await everyone(crossed)
  // A change every member's devices show (the mute state): in a large group one room event
  // for the online devices (the others read it from the list); else one per member.
  if (before && after && before.muted !== after.muted) {
    const description = after.muted ? 'muted' : 'unmuted'
    if (isLargeGroup(after.memberCount, task.largeGroupThreshold)) {
      await task.toRoom(cid, 0, changed(description))
    } else {
      await everyone(description)
    }
  }
}
