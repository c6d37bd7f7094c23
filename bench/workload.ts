// The seeds' workload shape: per-user send rates from a lognormal with sigma ~1.55 (the top
// 6% of users send half the messages, the top 20% about three quarters), and groups whose
// sizes make the average message reach ~30 members (the seeds' fan-out of 1:30).

/** A seeded PRNG (mulberry32), so every run draws the same workload. */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function normal(rng: () => number): number {
  const u = 1 - rng()
  const v = rng()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

export function lognormal(rng: () => number, mu: number, sigma: number): number {
  return Math.exp(mu + sigma * normal(rng))
}

/** The seeds' spread of per-user send rates: lognormal with this sigma. */
export const SENDER_SIGMA = 1.55

/** Draws items with probability proportional to their weights (binary search over the sums). */
export function weightedPicker<T>(
  rng: () => number,
  items: readonly T[],
  weights: readonly number[],
): () => T {
  const cumulative: number[] = []
  let sum = 0
  for (const w of weights) {
    sum += w
    cumulative.push(sum)
  }
  return () => {
    const x = rng() * sum
    let lo = 0
    let hi = cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cumulative[mid] as number) < x) lo = mid + 1
      else hi = mid
    }
    return items[lo] as T
  }
}

export interface Workload {
  groups: { id: string; members: string[] }[]
  /** Who sends the i-th message, and where. */
  messages: { senderId: string; conversationId: string }[]
  averageFanOut: number
}

export function imWorkload(options: {
  users: number
  groups: number
  messages: number
  seed?: number
}): Workload {
  const rng = random(options.seed ?? 42)
  const users = Array.from({ length: options.users }, (_, i) => `u${i}`)
  // Group sizes: lognormal, between 2 and 2,000. Members send, so a message's group is
  // size-biased: its expected size is mean * exp(sigma^2). Aim that at 30.
  const sigmaSize = 0.5
  const muSize = Math.log(30 / Math.exp(sigmaSize ** 2)) - sigmaSize ** 2 / 2
  const groupsOf = new Map<string, string[]>()
  const groups = Array.from({ length: options.groups }, (_, g) => {
    const size = Math.min(2_000, Math.max(2, Math.round(lognormal(rng, muSize, sigmaSize))))
    const members = new Set<string>()
    while (members.size < Math.min(size, users.length))
      members.add(users[Math.floor(rng() * users.length)] as string)
    const id = `g${g}`
    for (const m of members) groupsOf.set(m, [...(groupsOf.get(m) ?? []), id])
    return { id, members: [...members] }
  })
  // Send rates: lognormal sigma 1.55, sampled through the cumulative weights.
  const senders = users.filter((u) => groupsOf.has(u))
  const pick = weightedPicker(
    rng,
    senders,
    senders.map(() => lognormal(rng, 0, SENDER_SIGMA)),
  )
  const sizes = new Map(groups.map((g) => [g.id, g.members.length]))
  let recipients = 0
  const messages = Array.from({ length: options.messages }, () => {
    const senderId = pick()
    const mine = groupsOf.get(senderId) as string[]
    const conversationId = mine[Math.floor(rng() * mine.length)] as string
    recipients += sizes.get(conversationId) as number
    return { senderId, conversationId }
  })
  return { groups, messages, averageFanOut: recipients / options.messages }
}
