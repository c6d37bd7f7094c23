// A message on im.ingest: checked (shape, dedupe, home unit, sender, targets), asked of peak
// shaving, given its msgId, then delivered — stored in the conversation's log and handed on —
// now or, for a LOW message shaping defers, when it is drained. Every outcome is a receipt.

import { parseMsgId } from '../../schemas/msg-id.js'
import type { SendMessage, StoredMessage } from '../../schemas/types.generated.js'
import {
  dedupeKey,
  encodeStoredMessage,
  isLargeGroup,
  messageKey,
  seqIndexKey,
} from '../model/index.js'
import type { InputRecord } from '../runtime/index.js'
import type { ReceiverTask } from './receiver-task.js'
import { checkSender, checkShape, defaultLimits } from './validate-message.js'

export async function receive(
  task: ReceiverTask,
  record: InputRecord,
  message: SendMessage,
): Promise<void> {
  const { conversations } = task
  const shape = checkShape(message, task.options.limits ?? defaultLimits)
  if (shape) return task.reply(record, message, { kind: 'Rejected', ...shape })
  const dedupeId = dedupeKey(message.senderId, message.clientMsgId)
  const seen = await task.dedupe.get(dedupeId)
  if (seen) return task.reply(record, message, { kind: 'Accepted', ...seen })
  const conversation = await conversations.get(message.conversationId)
  // Homed in another geo (its sender's API found it there): decided there.
  const value = () => task.options.codecs.sendMessage.encode(message)
  if (
    !conversation &&
    (await task.geoRoute.forward(record, 'ingest', message.conversationId, value))
  )
    return
  // Homed in another unit (known here, or, unknown, where the sender's API found it):
  // processed there, so nothing of it is kept here.
  const unit = conversation ? conversation.unit : task.route.namedHome(record)
  if (unit !== undefined && !task.route.isLocal(unit)) {
    const refused = await task.route.forwardMessage(record, message, unit)
    return refused ? task.reply(record, message, refused) : undefined
  }
  const role = await conversations.role(message.conversationId, message.senderId)
  const refused = checkSender(message, conversation, role)
  if (refused) return task.reply(record, message, { kind: 'Rejected', ...refused })
  if (message.visibility === 'PRIVATE') {
    for (const target of message.targets) {
      if (!(await conversations.role(message.conversationId, target))) {
        return task.reply(record, message, {
          kind: 'Rejected',
          reason: 'BAD_TARGETS',
          detail: `${target} is not a member of ${message.conversationId}`,
        })
      }
    }
  }
  const admitted = await task.gate.admit({
    message,
    headers: record.headers,
    timestamp: record.timestamp,
    memberCount: conversation?.memberCount ?? 0,
  })
  if (!admitted.admit) {
    return task.reply(record, message, {
      kind: 'Throttled',
      reason: admitted.reason,
      retryAfterMs: admitted.retryAfterMs,
    })
  }
  const msgId = await task.nextId(record)
  // The id's own time, which never goes back (not even across restarts or clock steps):
  // history, ordered by creation time, then follows id order.
  const createdAt = parseMsgId(msgId).timeMs
  const storedMessage: StoredMessage = { ...message, msgId, createdAt, seq: 0 }
  task.dedupe.put(dedupeId, { msgId, createdAt })
  // In no log: found by conversation when it moves (private-dedupe.ts).
  if (message.visibility === 'PRIVATE')
    task.privateDedupe.record(message.conversationId, { key: dedupeId, msgId, createdAt })
  // LOW: accepted now (its msgId is fixed), stored and delivered when shaping drains it.
  if (admitted.later) await task.gate.defer(msgId, encodeStoredMessage(storedMessage), createdAt)
  else await deliver(task, storedMessage)
  await task.reply(record, message, { kind: 'Accepted', msgId, createdAt })
}

/** What receive() reads first for each message, read ahead for a slice's messages at once. */
export async function prefetchSends(
  task: ReceiverTask,
  records: readonly { message: SendMessage; headers: InputRecord['headers'] }[],
): Promise<void> {
  const messages = records.map((r) => r.message)
  await Promise.all([
    task.dedupe.prefetch(messages.map((m) => dedupeKey(m.senderId, m.clientMsgId))),
    task.conversations.prefetch(messages),
    task.gate.prefetch?.(records),
  ])
}

/**
 * Stores an accepted message in the conversation's log and hands it on. A large group's
 * normal message gets the conversation's next seq here (when delivered, so a drained LOW
 * message is numbered in delivery order) and goes once to im.rooms; any other message to
 * its recipients' partitions.
 */
export async function deliver(task: ReceiverTask, accepted: StoredMessage): Promise<void> {
  const { conversations } = task
  const { msgId, createdAt, conversationId } = accepted
  const meta = await conversations.get(conversationId)
  const large = isLargeGroup(meta?.memberCount ?? 0, task.largeGroupThreshold)
  const sequenced = accepted.visibility === 'NORMAL' && meta !== undefined && large
  const message: StoredMessage = sequenced
    ? { ...accepted, seq: conversations.nextSeq(conversationId, meta) }
    : accepted
  if (message.visibility === 'NORMAL') {
    const key = messageKey(conversationId, createdAt, msgId)
    task.log.put(key, encodeStoredMessage(message))
    if (sequenced) task.seqIndex.put(seqIndexKey(conversationId, message.seq), key)
  }
  const event = { priority: message.priority, payload: { kind: 'NewMessage' as const, message } }
  if (sequenced) return task.toRoom(conversationId, message.seq, event)
  // Everyone who may see it: all members for a normal message (the sender's other devices
  // included), the sender and the targets for a private one; a system account's own copy not.
  const everyone =
    message.visibility === 'NORMAL'
      ? await conversations.members(conversationId)
      : [...new Set([message.senderId, ...message.targets])]
  const recipients = task.options.systemAccounts?.has(message.senderId)
    ? everyone.filter((u) => u !== message.senderId)
    : everyone
  // Big groups read, small groups write: above the threshold no list row changes now.
  await task.handOff(conversationId, recipients, msgId, event, !large)
}
