// History roaming for one user: the conversation's log (N) merged with the user's private
// messages (P), without what they deleted for themselves (NP), newest first. A cursor is a
// position (creation time, msgId), valid in both logs, so a page stays stable while new
// messages keep arriving.

import { ImflowError } from '../../ops/errors.js'
import type { StoredMessage } from '../../schemas/types.generated.js'
import type { ReceiverQueries } from '../receiver/index.js'
import type { InboxQueries, Positioned } from './queries.js'

export interface HistoryPage {
  messages: StoredMessage[]
  /** Pass as `before` for the next (older) page; null when there is nothing older. */
  next: string | null
}

export async function userHistory(
  receiver: ReceiverQueries,
  inbox: InboxQueries,
  query: { conversationId: string; userId: string; before?: string | undefined; limit: number },
): Promise<HistoryPage> {
  const { conversationId, userId, limit } = query
  let before: Buffer | undefined
  if (query.before) {
    before = Buffer.from(query.before, 'base64url')
    if (before.length < 9)
      throw new ImflowError('IMF_ERR_BAD_REQUEST', 'before is not a cursor this API gave out')
  }
  const normal = receiver.log(conversationId, before)[Symbol.asyncIterator]()
  const mine = inbox.privateMessages(userId, conversationId, before)[Symbol.asyncIterator]()
  let n = await normal.next()
  let p = await mine.next()
  const messages: StoredMessage[] = []
  let last: Buffer | undefined
  try {
    while (messages.length < limit && !(n.done && p.done)) {
      // Take the newer of the two heads; positions compare as bytes.
      const takeNormal =
        p.done || (!n.done && Buffer.compare(n.value.position, p.value.position) > 0)
      const head = (takeNormal ? n.value : p.value) as Positioned
      if (takeNormal) n = await normal.next()
      else p = await mine.next()
      last = head.position
      if (takeNormal && (await inbox.deletedForMe(userId, conversationId, head.message.msgId)))
        continue
      messages.push(head.message)
    }
    const more = !(n.done && p.done)
    return { messages, next: more && last ? last.toString('base64url') : null }
  } finally {
    await normal.return?.(undefined)
    await mine.return?.(undefined)
  }
}
