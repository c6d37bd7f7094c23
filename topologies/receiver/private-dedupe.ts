// The dedupe answers of a conversation's private messages, found by conversation. The dedupe
// store is keyed by (sender, clientMsgId), and a private message is in no conversation log
// (it lives in its users' inboxes), so without this a move could not tell which answers
// belong to the conversation: a retry of a private message sent before the move, posted after
// it, was a new message at the new home. One small write per private message.

import { messageKey } from '../model/index.js'
import type { ProcessorContext, ReadWriteStore } from '../runtime/index.js'

/** messageKey (conversation, createdAt, msgId) -> the private message's dedupe answer (JSON). */
export const PRIVATE_DEDUPE_STORE = 'private-dedupe'

/** A private message's dedupe answer as it travels to a new home (move-out.ts, move-in.ts). */
export interface PrivateAnswer {
  key: string
  msgId: string
  createdAt: number
}

export class PrivateDedupe {
  readonly store: ReadWriteStore

  constructor(context: ProcessorContext) {
    this.store = context.store(PRIVATE_DEDUPE_STORE)
  }

  /** Kept when the private message is accepted (and when an answer is imported). */
  record(conversationId: string, answer: PrivateAnswer): void {
    const { key, msgId, createdAt } = answer
    this.store.put(
      messageKey(conversationId, createdAt, msgId),
      Buffer.from(JSON.stringify({ key, msgId, createdAt })),
    )
  }
}

export const parseAnswer = (value: Buffer) => JSON.parse(value.toString()) as PrivateAnswer
