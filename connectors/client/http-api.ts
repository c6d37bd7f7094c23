// The few API calls the client makes, behind an interface (tests give a fake one). Problems
// with a known code are raised with that code; anything else is IMF_ERR_API_UNAVAILABLE.

import { ImflowClientError, PROBLEM_CODE } from '../protocol/client-errors.js'
import type {
  CatchUpPage,
  ConversationListEntry,
  HistoryMessage,
  OutgoingMessage,
} from './types.js'

export interface ImflowHttp {
  /** GET /v1/conversations */
  conversations(): Promise<ConversationListEntry[]>
  /** GET /v1/conversations/:cid/messages?limit= — the newest page, newest first. */
  latestMessages(conversationId: string, limit: number): Promise<HistoryMessage[]>
  /** GET /v1/conversations/:cid/messages?after=&limit= — a large group's gap, oldest first. */
  messagesAfter(conversationId: string, after: number, limit: number): Promise<CatchUpPage>
  /** POST /v1/messages — the receipt. */
  send(message: OutgoingMessage): Promise<{ msgId: string; createdAt: number }>
  /** POST /v1/conversations/:cid/read — a read receipt up to msgId. */
  read?(conversationId: string, upToMsgId: string): Promise<void>
  /** POST /v1/conversations/:cid/messages/:msgId/reactions */
  react?(conversationId: string, msgId: string, emoji: string, op: 'add' | 'remove'): Promise<void>
}

export type TokenSource = () => string | Promise<string>

export function fetchHttp(baseUrl: string, token: TokenSource): ImflowHttp {
  const base = baseUrl.replace(/\/+$/, '')
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await token()}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    } catch (err) {
      throw new ImflowClientError('IMF_ERR_API_UNAVAILABLE', `${method} ${path}: ${String(err)}`, {
        cause: err,
      })
    }
    const answer = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined
    if (res.ok && answer !== undefined) return answer as T
    const code = answer?.code
    if (typeof code === 'string' && PROBLEM_CODE.test(code)) {
      const { code: _, detail, retriable, ...details } = answer as Record<string, unknown>
      throw new ImflowClientError(code, String(detail ?? `${method} ${path}`), {
        details,
        ...(typeof retriable === 'boolean' ? { retriable } : {}),
      })
    }
    throw new ImflowClientError(
      'IMF_ERR_API_UNAVAILABLE',
      `${method} ${path} answered ${res.status}`,
    )
  }
  return {
    async conversations() {
      return (await call<{ conversations: ConversationListEntry[] }>('GET', '/v1/conversations'))
        .conversations
    },
    async latestMessages(conversationId, limit) {
      const path = `/v1/conversations/${encodeURIComponent(conversationId)}/messages?limit=${limit}`
      return (await call<{ messages: HistoryMessage[] }>('GET', path)).messages
    },
    messagesAfter(conversationId, after, limit) {
      const path = `/v1/conversations/${encodeURIComponent(conversationId)}/messages?after=${after}&limit=${limit}`
      return call<CatchUpPage>('GET', path)
    },
    async read(conversationId, upToMsgId) {
      await call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/read`, {
        msgId: upToMsgId,
      })
    },
    async react(conversationId, msgId, emoji, op) {
      const path = `/v1/conversations/${encodeURIComponent(conversationId)}/messages/${msgId}/reactions`
      await call('POST', path, { emoji, op })
    },
    send: (message) =>
      call('POST', '/v1/messages', { type: 'TEXT', ...message }) as Promise<{
        msgId: string
        createdAt: number
      }>,
  }
}
