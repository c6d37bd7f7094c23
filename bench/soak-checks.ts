// The soak's verdict, read back from what imflow answers once everything is processed: each
// user's sync stream through GET /v1/sync applied to the client library's state (PTS in order,
// each message once, none missing), each conversation's history (each message once, each
// sender's messages in the order sent), and every dead letter matched to a record the soak
// wrote to be refused.

import { ClientState } from '../connectors/client/index.js'
import type { DeadLetter, SequencedEvent } from '../schemas/types.generated.js'

export interface Problems {
  /** Messages a user's client should hold and does not. */
  missing: number
  /** Messages a user was given under two PTS, or a history lists twice. */
  doubled: number
  /** PTS not above the previous one in a user's stream. */
  ptsInversions: number
  /** A sender's messages out of their send order in a conversation's log. */
  seqInversions: number
  /** Messages a client or a history holds that it should not. */
  unexpected: number
  /** Users whose stream asked for a Rebase (events beyond the retention). */
  rebased: number
  examples: string[]
}

export function noProblems(): Problems {
  return {
    missing: 0,
    doubled: 0,
    ptsInversions: 0,
    seqInversions: 0,
    unexpected: 0,
    rebased: 0,
    examples: [],
  }
}

function note(problems: Problems, text: string): void {
  if (problems.examples.length < 20) problems.examples.push(text)
}

type Get = (path: string, user: string) => Promise<unknown>

interface SyncPage {
  headPts: number
  rebase: boolean
  events: SequencedEvent[]
  hasMore: boolean
}

/** One user's whole sync stream, fed to the client library as a device would be. */
export async function checkUser(
  get: Get,
  user: string,
  /** The msgIds the user's conversations were accepted with, by conversation. */
  expected: ReadonlyMap<string, ReadonlySet<string>>,
  problems: Problems,
): Promise<void> {
  const state = new ClientState(user)
  const ptsOf = new Map<string, number>()
  let after = 0
  for (let page = 0; page < 100_000; page++) {
    const body = (await get(`/v1/sync?after=${after}&limit=1000`, user)) as SyncPage
    if (body.rebase) {
      problems.rebased++
      note(problems, `${user}: a Rebase at PTS ${after}`)
      return
    }
    for (const { pts, event } of body.events) {
      if (pts <= after) {
        problems.ptsInversions++
        note(problems, `${user}: PTS ${pts} after ${after}`)
      }
      after = Math.max(after, pts)
      if (event.payload.kind !== 'NewMessage') continue
      const { msgId } = event.payload.message
      const before = ptsOf.get(msgId)
      if (before !== undefined && before !== pts) {
        problems.doubled++
        note(problems, `${user}: ${msgId} at PTS ${before} and ${pts}`)
      }
      ptsOf.set(msgId, pts)
    }
    state.applyEvents(body.events)
    if (!body.hasMore) break
  }
  for (const [conversationId, want] of expected) {
    const held = state.messages.messages(conversationId).map((m) => m.msgId)
    const heldSet = new Set(held)
    if (heldSet.size !== held.length) problems.doubled += held.length - heldSet.size
    for (const id of want)
      if (!heldSet.has(id)) {
        problems.missing++
        note(problems, `${user}: ${conversationId} lacks ${id}`)
      }
    for (const id of heldSet) if (!want.has(id)) problems.unexpected++
  }
}

interface HistoryPage {
  messages: { msgId: string; senderId: string; body: string }[]
  next?: string | null
}

/**
 * A conversation's history as a member reads it: each accepted message once, nothing else,
 * and each sender's messages in the order they were sent (the soak's bodies are `s-<index>`).
 */
export async function checkConversation(
  get: Get,
  conversationId: string,
  member: string,
  want: ReadonlySet<string>,
  problems: Problems,
): Promise<void> {
  const listed: HistoryPage['messages'] = []
  let before: string | undefined
  for (let page = 0; page < 100_000; page++) {
    const query = `limit=200${before ? `&before=${encodeURIComponent(before)}` : ''}`
    const body = (await get(
      `/v1/conversations/${conversationId}/messages?${query}`,
      member,
    )) as HistoryPage
    listed.push(...body.messages)
    if (!body.next) break
    before = body.next
  }
  const ids = new Set(listed.map((m) => m.msgId))
  problems.doubled += listed.length - ids.size
  for (const id of want)
    if (!ids.has(id)) {
      problems.missing++
      note(problems, `history of ${conversationId} lacks ${id}`)
    }
  for (const id of ids) if (!want.has(id)) problems.unexpected++
  // Newest first: walking back, each sender's index must fall.
  const lastIndex = new Map<string, number>()
  for (const m of listed) {
    const index = Number(m.body.slice(2))
    const newer = lastIndex.get(m.senderId)
    if (newer !== undefined && index >= newer) {
      problems.seqInversions++
      note(problems, `${conversationId}: ${m.senderId}'s s-${index} listed before s-${newer}`)
    }
    lastIndex.set(m.senderId, index)
  }
}

/** Dead letters the soak did not ask for: anything but its own garbage on im.ingest. */
export function unexplainedLetters(
  letters: readonly DeadLetter[],
  ingestTopic: string,
  garbage: Buffer,
): DeadLetter[] {
  return letters.filter(
    (l) =>
      !(
        l.sourceTopic === ingestTopic &&
        l.errorCode === 'IMF_ERR_NOT_AVRO' &&
        l.value !== undefined &&
        l.value !== null &&
        Buffer.from(l.value).equals(garbage)
      ),
  )
}
