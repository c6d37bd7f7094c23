// A digest of one store partition's committed state, to compare two runs of imflow (a replay
// into a new app id against the original). Order-independent: the sum (mod 2^64) of a hash of
// each live key and its value, so two runs that wrote the same final state in another order,
// or with other intermediate values, agree. Built from a changelog read in log order: the
// latest write per key wins, a tombstone (null value) removes the key.

import { createHash } from 'node:crypto'

const MOD = 1n << 64n

/** The hash of one entry: its key's length first, so (ab, c) and (a, bc) differ. */
export function entryHash(key: Buffer, value: Buffer): bigint {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(key.length)
  return createHash('sha256').update(length).update(key).update(value).digest().readBigUInt64BE(0)
}

export interface Digest {
  /** Live keys (written and not deleted). */
  readonly keys: number
  /** 16 hex digits; the empty store's is all zeros. */
  readonly digest: string
}

/** Folds a changelog partition's writes, in log order, into its state's digest. */
export class StoreDigest {
  // The latest entry's hash per key (hex key: Buffers are not Map keys by value).
  private readonly latest = new Map<string, bigint>()

  apply(key: Buffer, value: Buffer | null): void {
    if (value === null) this.latest.delete(key.toString('hex'))
    else this.latest.set(key.toString('hex'), entryHash(key, value))
  }

  result(): Digest {
    let sum = 0n
    for (const h of this.latest.values()) sum = (sum + h) % MOD
    return { keys: this.latest.size, digest: sum.toString(16).padStart(16, '0') }
  }
}
