// Who talks to whom in `imflow demo`: the seeds' workload shape. Per-user send rates are
// lognormal (sigma 1.55: 6% of users send half the messages); many small groups, some of
// 500-2,000 members and, with 10,000 users or more, one of 10,000+; 1:1 conversations and
// PRIVATE messages inside groups. How often each kind is picked is solved so the average
// message reaches ~30 members (the seeds' fan-out of 1:30). Pure and seeded: a test draws it.

import { lognormal, random, SENDER_SIGMA, weightedPicker } from '../../../bench/workload.js'

export type ConversationKind = 'dm' | 'small' | 'large' | 'huge'

export interface DemoConversation {
  id: string
  kind: ConversationKind
  members: string[]
}

export interface DemoMessage {
  senderId: string
  conversation: DemoConversation
  /** PRIVATE: the members besides the sender who may see it. */
  targets?: string[]
}

export interface DemoPlan {
  users: string[]
  conversations: DemoConversation[]
  /** How often each kind of message is sent (sums to 1). */
  shares: Record<ConversationKind | 'private', number>
  next(): DemoMessage
}

const TARGET_FAN_OUT = 30
const DM_SHARE = 0.3
const PRIVATE_SHARE = 0.05

/** k distinct items drawn from `items`. */
function sample<T>(rng: () => number, items: readonly T[], k: number): T[] {
  if (k * 4 < items.length) {
    // Few of many: draw indices until k distinct ones (no copy of the whole list).
    const picked = new Set<number>()
    while (picked.size < k) picked.add(Math.floor(rng() * items.length))
    return [...picked].map((i) => items[i] as T)
  }
  const copy = [...items]
  const n = Math.min(k, copy.length)
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rng() * (copy.length - i))
    ;[copy[i], copy[j]] = [copy[j] as T, copy[i] as T]
  }
  return copy.slice(0, n)
}

const one = <T>(rng: () => number, items: readonly T[]) =>
  items[Math.floor(rng() * items.length)] as T

function conversations(rng: () => number, users: string[], prefix: string): DemoConversation[] {
  const n = users.length
  const out: DemoConversation[] = []
  const add = (kind: ConversationKind, members: string[]) =>
    out.push({ id: `${prefix}${kind}-${out.length}`, kind, members })
  if (n >= 10_000) add('huge', sample(rng, users, Math.min(n, 10_000 + Math.floor(rng() * 500))))
  if (n >= 1_000) {
    for (let i = 0; i < Math.floor(n / 3_000) || i < 1; i++)
      add('large', sample(rng, users, Math.min(Math.floor(n / 2), 500 + Math.floor(rng() * 1_500))))
  }
  // Small groups: median 6 members, a long tail up to 100.
  for (let i = 0; i < Math.ceil(n / 8); i++) {
    const size = Math.min(100, Math.max(3, Math.round(lognormal(rng, Math.log(6), 0.7))))
    add('small', sample(rng, users, size))
  }
  for (let i = 0; i < Math.ceil(n / 10); i++) add('dm', sample(rng, users, 2))
  // Everyone has somewhere small to speak: whoever drew no small group or 1:1 joins a small
  // group (fewer conversations to create than a 1:1 each).
  const small = out.filter((c) => c.kind === 'small')
  const seen = new Set(
    out.filter((c) => c.kind !== 'large' && c.kind !== 'huge').flatMap((c) => c.members),
  )
  users.forEach((u, i) => {
    if (seen.has(u)) return
    if (small.length > 0) one(rng, small).members.push(u)
    else add('dm', [u, users[(i + 1) % n] as string])
  })
  return out
}

/**
 * The shares of large and huge messages that bring the average fan-out to the target.
 * `reach`: the part of all sending (by rate) done by members of such a group; the others'
 * draws fall back to their small conversations.
 */
function solveShares(
  mean: Record<ConversationKind, number>,
  reach: Record<ConversationKind, number>,
) {
  const shares = { dm: DM_SHARE, private: PRIVATE_SHARE, small: 0, large: 0, huge: 0 }
  // A 1:1 drawn for a sender who has none falls back to one of their small groups.
  const dm = DM_SHARE * reach.dm
  const base = dm * 2 + (1 - dm - PRIVATE_SHARE) * mean.small + PRIVATE_SHARE * 2
  const budget = Math.max(0, TARGET_FAN_OUT - base)
  const kinds = (['large', 'huge'] as const).filter((k) => mean[k] > mean.small)
  for (const k of kinds) {
    shares[k] = Math.min(0.2, budget / kinds.length / (mean[k] - mean.small) / (reach[k] || 1))
  }
  shares.small = 1 - DM_SHARE - PRIVATE_SHARE - shares.large - shares.huge
  return shares
}

export function planDemo(options: { users: number; seed?: number; prefix?: string }): DemoPlan {
  const rng = random(options.seed ?? 7)
  const prefix = options.prefix ?? 'demo-'
  const users = Array.from({ length: options.users }, (_, i) => `${prefix}u${i}`)
  const all = conversations(rng, users, prefix)
  const byKind = { dm: [], small: [], large: [], huge: [] } as Record<
    ConversationKind,
    DemoConversation[]
  >
  const byUser = new Map<string, Record<ConversationKind, DemoConversation[]>>()
  for (const c of all) {
    byKind[c.kind].push(c)
    for (const m of c.members) {
      const mine = byUser.get(m) ?? { dm: [], small: [], large: [], huge: [] }
      byUser.set(m, mine)
      mine[c.kind].push(c)
    }
  }
  const mean = Object.fromEntries(
    Object.entries(byKind).map(([k, cs]) => [
      k,
      cs.length ? cs.reduce((s, c) => s + c.members.length, 0) / cs.length : 0,
    ]),
  ) as Record<ConversationKind, number>
  const weights = users.map(() => lognormal(rng, 0, SENDER_SIGMA))
  const totalWeight = weights.reduce((a, b) => a + b, 0)
  const reach = { dm: 0, small: 0, large: 0, huge: 0 }
  users.forEach((u, i) => {
    const mine = byUser.get(u)
    for (const k of Object.keys(reach) as ConversationKind[]) {
      if (mine?.[k].length) reach[k] += (weights[i] as number) / totalWeight
    }
  })
  const shares = solveShares(mean, reach)
  const kinds = Object.keys(shares) as (keyof typeof shares)[]
  const pickKind = weightedPicker(
    rng,
    kinds,
    kinds.map((k) => shares[k]),
  )
  const pickSender = weightedPicker(rng, users, weights)
  return {
    users,
    conversations: all,
    shares,
    next() {
      // The sender by their rate, then one of their conversations of the kind drawn (or a
      // small group or 1:1, or any, of theirs when they have none of that kind).
      const senderId = pickSender()
      const kind = pickKind()
      const mine = byUser.get(senderId) as Record<ConversationKind, DemoConversation[]>
      const wanted = mine[kind === 'private' ? 'small' : kind]
      const pool = [wanted, mine.small, mine.dm, mine.large, mine.huge].find((p) => p.length > 0)
      const conversation = one(rng, pool as DemoConversation[])
      if (kind !== 'private' || conversation.kind === 'dm') return { senderId, conversation }
      const others = conversation.members.filter((m) => m !== senderId)
      return { senderId, conversation, targets: sample(rng, others, 1 + Math.floor(rng() * 2)) }
    },
  }
}
