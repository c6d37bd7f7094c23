// What one user sees of a conversation: its log (N) merged with the user's private messages
// (P), without what they deleted for themselves (NP), newest first. History pages and the
// conversation list's computed entries both read it. A cursor is a position (creation time,
// msgId), valid in both logs, so a page stays stable while new messages keep arriving.

import { ImflowError } from '../../ops/errors.js'
import { compareMsgIds } from '../../schemas/msg-id.js'
import type { StoredMessage } from '../../schemas/types.generated.js'
import { type ConversationLog, POSITION_TIME_BYTES, type Positioned } from '../model/index.js'
import type { InboxQueries } from './queries.js'

export interface HistoryPage {
  messages: StoredMessage[]
  /** Pass as `before` for the next (older) page; null when there is nothing older. */
  next: string | null
}

export async function* visibleMessages(
  conversations: ConversationLog,
  inbox: InboxQueries,
  conversationId: string,
  userId: string,
  before?: Buffer,
): AsyncGenerator<Positioned> {
  const normal = withoutDeleted(conversations.log(conversationId, before), (msgId) =>
    inbox.deletedForMe(userId, conversationId, msgId),
  )[Symbol.asyncIterator]()
  const mine = inbox.privateMessages(userId, conversationId, before)[Symbol.asyncIterator]()
  try {
    let n = await normal.next()
    let p = await mine.next()
    while (!(n.done && p.done)) {
      // Take the newer of the two heads; positions compare as bytes.
      const takeNormal =
        p.done || (!n.done && Buffer.compare(n.value.position, p.value.position) > 0)
      const head = (takeNormal ? n.value : p.value) as Positioned
      if (takeNormal) n = await normal.next()
      else p = await mine.next()
      yield head
    }
  } finally {
    await normal.return?.(undefined)
    await mine.return?.(undefined)
  }
}

/** The first read-ahead of withoutDeleted(); each next one is twice as long, up to the last. */
const DELETED_CHECKS_FIRST = 4
const DELETED_CHECKS_MOST = 64

/**
 * The entries the user did not delete for themself, in order. The deletions are looked up a
 * chunk of entries at a time, side by side (one store read each, not one after another); the
 * chunks grow from a few, so a reader that wants only the newest reads little ahead.
 */
export async function* withoutDeleted(
  entries: AsyncIterable<Positioned>,
  deleted: (msgId: string) => Promise<boolean>,
): AsyncGenerator<Positioned> {
  let chunk: Positioned[] = []
  let size = DELETED_CHECKS_FIRST
  const checked = async (taken: Positioned[]) => {
    const gone = await Promise.all(taken.map((e) => deleted(e.message.msgId)))
    return taken.filter((_, i) => !gone[i])
  }
  for await (const entry of entries) {
    chunk.push(entry)
    if (chunk.length < size) continue
    yield* await checked(chunk)
    chunk = []
    size = Math.min(2 * size, DELETED_CHECKS_MOST)
  }
  yield* await checked(chunk)
}

export async function userHistory(
  conversations: ConversationLog,
  inbox: InboxQueries,
  query: { conversationId: string; userId: string; before?: string | undefined; limit: number },
): Promise<HistoryPage> {
  let before: Buffer | undefined
  if (query.before) {
    before = Buffer.from(query.before, 'base64url')
    if (before.length <= POSITION_TIME_BYTES)
      throw new ImflowError('IMF_ERR_BAD_REQUEST', 'before is not a cursor this API gave out')
  }
  const page: Positioned[] = []
  // One more than asked: whether an older page exists.
  for await (const entry of visibleMessages(
    conversations,
    inbox,
    query.conversationId,
    query.userId,
    before,
  )) {
    page.push(entry)
    if (page.length > query.limit) break
  }
  const more = page.length > query.limit
  const shown = page.slice(0, query.limit)
  return {
    messages: shown.map((e) => e.message),
    next: more ? (shown.at(-1) as Positioned).position.toString('base64url') : null,
  }
}

export interface CatchUpPage {
  /** Oldest first, seq > after, without what the user deleted for themself. */
  messages: StoredMessage[]
  /** The conversation's newest seq. */
  headSeq: number
  /** Pass as `after` for the next page; null when this page reaches the head. */
  next: number | null
  /** Too far behind: nothing is paged; load the latest page and continue from headSeq. */
  reload: boolean
}

/**
 * A large group's messages after a seq, for a device that missed pushes (Telegram's
 * getChannelDifference): the gap, paged, or — past `limit` behind — a reload.
 */
export async function userMessagesAfter(
  conversations: ConversationLog,
  inbox: InboxQueries,
  query: {
    conversationId: string
    userId: string
    after: number
    limit: number
    reloadPast: number
  },
): Promise<CatchUpPage> {
  const headSeq = (await conversations.sequence(query.conversationId))?.seq ?? 0
  if (headSeq - query.after > query.reloadPast) {
    return { messages: [], headSeq, next: null, reload: true }
  }
  const found = await conversations.messagesAfter(query.conversationId, query.after, query.limit)
  const gone = await Promise.all(
    found.map((m) => inbox.deletedForMe(query.userId, query.conversationId, m.msgId)),
  )
  const messages = found.filter((_, i) => !gone[i])
  const last = found.at(-1)?.seq ?? query.after
  return { messages, headSeq, next: last < headSeq ? last : null, reload: false }
}

/**
 * A list entry computed on read (large groups, or a small group's row whose last message was
 * deleted): the newest visible message, and how many visible messages from others are newer
 * than the user's read cursor, counted up to `cap`.
 */
export async function computedListEntry(
  conversations: ConversationLog,
  inbox: InboxQueries,
  conversationId: string,
  userId: string,
  cap: number,
): Promise<{ unread: number; last: StoredMessage | null }> {
  const cursor = await conversations.readCursor(conversationId, userId)
  let unread = 0
  let last: StoredMessage | null = null
  for await (const { message } of visibleMessages(conversations, inbox, conversationId, userId)) {
    last ??= message
    if ((cursor && compareMsgIds(message.msgId, cursor) <= 0) || unread >= cap) break
    if (message.senderId !== userId) unread++
  }
  return { unread, last }
}

/**
 * The user's large groups and each one's newest seq: what a device follows outside its PTS
 * stream (docs/sync.md, "Large groups"). The list names the candidates and `head` confirms
 * each where the conversation is kept (its size, seq and the user's membership now): the list
 * is another topology's and may not have caught up with a removal yet.
 */
export async function largeGroupsOf(
  inbox: InboxQueries,
  userId: string,
  head: (conversationId: string) => Promise<{ conversationId: string; seq: number } | undefined>,
): Promise<{ conversationId: string; seq: number }[]> {
  const found: { conversationId: string; seq: number }[] = []
  for await (const { conversationId } of inbox.conversations(userId)) {
    const confirmed = await head(conversationId)
    if (confirmed) found.push(confirmed)
  }
  return found
}
