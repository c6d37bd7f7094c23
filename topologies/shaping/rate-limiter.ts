// Rate limits per conversation, user, client type and calling application: one token bucket
// per key, kept in the task's store so the limits hold across restarts and task moves. A
// message passes only if every dimension has a token; a refused message takes none.
// Buckets live in the receiver task of the message's conversation: a conversation's limit
// is exact, the other dimensions' are per task (docs/shaping.md).

import type { ReadWriteStore } from '../../state/index.js'
import { jsonSerde, type KeyValueStore, stringSerde, typedStore } from '../../state/index.js'
import { type Dimension, type Limits, limitOf } from './limits.js'
import { type Bucket, type RateLimit, take } from './token-bucket.js'

export type DimensionKey = readonly [Dimension, string | undefined]

export type LimitCheck = { ok: true } | { ok: false; dimension: Dimension; retryAfterMs: number }

export class RateLimiter {
  private readonly buckets: KeyValueStore<string, Bucket>

  constructor(store: ReadWriteStore) {
    this.buckets = typedStore(store, stringSerde, jsonSerde<Bucket>())
  }

  /** Reads ahead the buckets check() will take from (see Processor.prefetch). */
  prefetch(keys: readonly DimensionKey[], limits: Limits): Promise<void> {
    return this.buckets.prefetch(limited(keys, limits).map(([, , id]) => id))
  }

  /**
   * Takes a token of each limited dimension, or none and says which one refused. `now` is the
   * task's event time; a bucket written further on (before a restart, whose stream time starts
   * again at the first record read) is not taken back: its time never goes back either.
   */
  async check(keys: readonly DimensionKey[], limits: Limits, now: number): Promise<LimitCheck> {
    const taken: [string, Bucket][] = []
    let refused: LimitCheck = { ok: true }
    for (const [dimension, limit, id] of limited(keys, limits)) {
      const bucket = await this.buckets.get(id)
      const result = take(bucket, limit, Math.max(now, bucket?.at ?? now))
      if (result.ok) taken.push([id, result.bucket])
      else if (refused.ok || result.retryAfterMs > refused.retryAfterMs)
        refused = { ok: false, dimension, retryAfterMs: result.retryAfterMs }
    }
    if (refused.ok) for (const [id, bucket] of taken) this.buckets.put(id, bucket)
    return refused
  }
}

/** The dimensions with a limit for their key, with the limit and the bucket's id. */
function limited(keys: readonly DimensionKey[], limits: Limits): [Dimension, RateLimit, string][] {
  const out: [Dimension, RateLimit, string][] = []
  for (const [dimension, key] of keys) {
    if (key === undefined || key === '') continue
    const limit = limitOf(limits, dimension, key)
    if (limit) out.push([dimension, limit, `${dimension}\u0000${key}`])
  }
  return out
}
