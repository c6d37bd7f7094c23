// What the receiver checks before a message is accepted, as a pure function of the message,
// the conversation and the sender's role. The first failed check is the reason.

import type { RejectReason, SendMessage } from '../../schemas/types.generated.js'
import type { ConversationMeta, Role } from '../model/index.js'

export interface ValidationLimits {
  /** Largest body, in UTF-8 bytes. */
  maxBodyBytes: number
  /** Longest clientMsgId. */
  maxClientMsgIdLength: number
}

export const defaultLimits: ValidationLimits = {
  maxBodyBytes: 64 * 1024,
  maxClientMsgIdLength: 128,
}

export interface Rejection {
  reason: RejectReason
  detail: string
}

/** Checks that need only the message itself. */
export function checkShape(message: SendMessage, limits: ValidationLimits): Rejection | undefined {
  if (!message.conversationId) return { reason: 'INVALID', detail: 'conversationId is empty' }
  if (!message.senderId) return { reason: 'INVALID', detail: 'senderId is empty' }
  if (!message.clientMsgId) return { reason: 'INVALID', detail: 'clientMsgId is empty' }
  if (message.clientMsgId.length > limits.maxClientMsgIdLength) {
    return {
      reason: 'INVALID',
      detail: `clientMsgId is longer than ${limits.maxClientMsgIdLength} characters`,
    }
  }
  const size = Buffer.byteLength(message.body, 'utf8')
  if (size > limits.maxBodyBytes) {
    return {
      reason: 'TOO_LARGE',
      detail: `body is ${size} bytes, the limit is ${limits.maxBodyBytes}`,
    }
  }
  if (message.visibility === 'PRIVATE' && message.targets.length === 0) {
    return { reason: 'BAD_TARGETS', detail: 'a PRIVATE message needs targets' }
  }
  return undefined
}

/** Checks against the conversation: it exists, the sender belongs, a muted group hears only admins. */
export function checkSender(
  message: SendMessage,
  conversation: ConversationMeta | undefined,
  role: Role | undefined,
): Rejection | undefined {
  if (!conversation)
    return { reason: 'UNKNOWN_CONVERSATION', detail: `no conversation ${message.conversationId}` }
  if (!role)
    return {
      reason: 'NOT_MEMBER',
      detail: `${message.senderId} is not a member of ${message.conversationId}`,
    }
  if (conversation.muted && role !== 'admin') {
    return { reason: 'MUTED', detail: `${message.conversationId} is muted; only admins may send` }
  }
  return undefined
}
