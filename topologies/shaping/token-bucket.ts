// A token bucket as a value, so it can live in a state store and survive restarts: `rate`
// tokens a second flow in up to `burst`; a message takes one. Pure: the caller keeps the
// bucket and the time.

export interface RateLimit {
  /** Tokens added per second. */
  rate: number
  /** Most tokens held: how many messages may come at once after a quiet spell. */
  burst: number
}

export interface Bucket {
  tokens: number
  /** When `tokens` was last brought up to date (ms). */
  at: number
}

export type Take =
  | { ok: true; bucket: Bucket }
  | { ok: false; bucket: Bucket; retryAfterMs: number }

/** The bucket's tokens at `now` (a new bucket starts full; time never flows backwards). */
export function refill(bucket: Bucket | undefined, limit: RateLimit, now: number): Bucket {
  if (!bucket) return { tokens: limit.burst, at: now }
  const elapsed = Math.max(0, now - bucket.at)
  return { tokens: Math.min(limit.burst, bucket.tokens + (elapsed * limit.rate) / 1000), at: now }
}

/** Takes one token, or says how long until one is there. */
export function take(bucket: Bucket | undefined, limit: RateLimit, now: number): Take {
  const current = refill(bucket, limit, now)
  if (current.tokens >= 1) return { ok: true, bucket: { ...current, tokens: current.tokens - 1 } }
  const retryAfterMs =
    limit.rate > 0 ? Math.ceil(((1 - current.tokens) * 1000) / limit.rate) : 60_000
  return { ok: false, bucket: current, retryAfterMs: Math.max(1, retryAfterMs) }
}
