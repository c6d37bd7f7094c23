import fc from 'fast-check'
import { describe, it } from 'vitest'
import { partitionForKey } from '../../topologies/runtime/partitioner.js'
import { kafkajsOriginal } from './kafkajs-original.js'

describe('partitionForKey', () => {
  it('agrees with kafkajs’ own default (Java-compatible) partitioner hash for any key', () => {
    // kafkajs' module, not the one primed in its place (ops/kafkajs-murmur2.ts).
    const murmur2 = kafkajsOriginal<(key: unknown) => number>(
      'kafkajs/src/producer/partitioners/default/murmur2.js',
    )
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.integer({ min: 1, max: 64 }),
        (key, n) => partitionForKey(key, n) === (murmur2(key) & 0x7fffffff) % n,
      ),
      { numRuns: 2_000 },
    )
  })
})
