// A member's action on im.actions (forwarded to the conversation's home geo or unit when that
// is another one): deleting a message for themself (NP) and reading up to a
// message go to their inbox (the read cursor is also kept here, for large groups' unread
// counts, and only moves forward). Reactions are merged over windows by the merge topology.

import { compareMsgIds } from '../../schemas/msg-id.js'
import type { Action } from '../../schemas/types.generated.js'
import { memberKey } from '../model/index.js'
import type { InputRecord } from '../runtime/index.js'
import type { ReceiverTask } from './receiver-task.js'

export async function act(task: ReceiverTask, record: InputRecord, event: Action) {
  const { conversationId, userId, action } = event
  const meta = await task.conversations.get(conversationId)
  // Homed in another geo: acted on there (reactions too: that geo's merge stage counts them).
  const value = () => task.options.codecs.action.encode(event)
  if (!meta && (await task.geoRoute.forward(record, 'actions', conversationId, value))) return
  // Homed in another unit (known here, or where the user's API found it): its read cursors
  // and merge windows are there.
  const unit = meta ? meta.unit : task.route.namedHome(record)
  if (unit !== undefined && !task.route.isLocal(unit))
    return task.route.forwardAction(record, event, unit)
  if (action.kind === 'ReactionChanged') return
  if (!(await task.conversations.role(conversationId, userId))) return // only members act here
  if (action.kind === 'DeletedForMe') {
    const payload = { kind: 'MessageDeleted' as const, conversationId, msgId: action.msgId }
    const sourceId = `deleted:${userId}:${action.msgId}`
    return task.handOff(conversationId, [userId], sourceId, { priority: 'LOW', payload }, true)
  }
  const cursor = memberKey(conversationId, userId)
  const previous = await task.readCursors.get(cursor)
  if (previous && compareMsgIds(previous, action.upToMsgId) >= 0) return // never backwards
  task.readCursors.put(cursor, action.upToMsgId)
  const payload = {
    kind: 'ConversationRead' as const,
    conversationId,
    upToMsgId: action.upToMsgId,
  }
  const sourceId = `read:${userId}:${action.upToMsgId}`
  await task.handOff(conversationId, [userId], sourceId, { priority: 'HIGH', payload }, true)
}
