// The key hash that replaces kafkajs' (ops/kafkajs-murmur2.ts): for any key, the number
// kafkajs 2.2.4's BigInt murmur2 gives, and so the partition its default partitioner picks.

import { createRequire } from 'node:module'
import fc from 'fast-check'
import { Partitioners } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { murmur2Fixed } from '../../ops/kafkajs-murmur2.js'
import { kafkajsOriginal } from './kafkajs-original.js'

const require = createRequire(import.meta.url)
const PATH = 'kafkajs/src/producer/partitioners/default/murmur2.js'
type Murmur2 = (key: unknown) => number

const anyKey = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer(),
)

describe('kafkajs murmur2', () => {
  it('is the one kafkajs producers use (primed before kafkajs loaded)', () => {
    expect(murmur2Fixed()).toBe(true)
  })

  it('hashes any key as kafkajs does: bytes, strings, numbers', () => {
    const ours = require(PATH) as Murmur2
    const theirs = kafkajsOriginal<Murmur2>(PATH)
    expect(ours).not.toBe(theirs)
    fc.assert(
      fc.property(anyKey, (key) => ours(key) === theirs(key)),
      { numRuns: 5_000 },
    )
  })

  it('puts a key where kafkajs put it', () => {
    const theirs = kafkajsOriginal<Murmur2>(PATH)
    const partitioner = Partitioners.DefaultPartitioner()
    const partitionMetadata = Array.from({ length: 97 }, (_, i) => ({
      partitionId: i,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }))
    fc.assert(
      fc.property(anyKey, (key) => {
        const message = { key: key as Buffer | string, value: null }
        return (
          partitioner({ topic: 't', partitionMetadata, message }) ===
          (theirs(key) & 0x7fffffff) % 97
        )
      }),
      { numRuns: 2_000 },
    )
  })
})
