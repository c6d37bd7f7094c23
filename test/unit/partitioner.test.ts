import fc from 'fast-check'
import { Partitioners } from 'kafkajs'
import { describe, it } from 'vitest'
import { partitionForKey } from '../../topologies/runtime/partitioner.js'

describe('partitionForKey', () => {
  it('agrees with kafkajs’ default (Java-compatible) partitioner for any key', () => {
    const kafkajs = Partitioners.DefaultPartitioner()
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.integer({ min: 1, max: 64 }),
        (key, n) => {
          const partitionMetadata = Array.from({ length: n }, (_, i) => ({
            partitionId: i,
            leader: 0,
            partitionErrorCode: 0,
            replicas: [0],
            isr: [0],
          }))
          const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } })
          return partitionForKey(key, n) === expected
        },
      ),
      { numRuns: 2_000 },
    )
  })
})
