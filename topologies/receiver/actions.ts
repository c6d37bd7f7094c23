// A member's action on im.actions: deleting a message for themself (NP) and reading up to a
// message go to their inbox (the read cursor is also kept here, for large groups' unread
// counts, and only moves forward). Reactions are merged over windows by the merge topology.

import { compareMsgIds } from '../../schemas/msg-id.js'
import type { Action } from '../../schemas/types.generated.js'
import { memberKey } from '../model/index.js'
import type { ReceiverTask } from './receiver-task.js'

export async function act(task: ReceiverTask, { conversationId, userId, action }: Action) {
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
  task.handOff(conversationId, [userId], sourceId, { priority: 'HIGH', payload }, true)
}
