// Produce requests bounded in bytes and records, and transaction slices bounded by records, bytes and time.

import { describe, expect, it } from 'vitest'
import { ImflowError } from '../../ops/errors.js'
import { ChangeloggedStore, MemoryStore } from '../../state/index.js'
import {
  DEFAULT_MAX_BATCH_BYTES,
  MAX_RECORDS_PER_REQUEST,
  maxRecordBytes,
  produceRequests,
  recordBytes,
} from '../../topologies/runtime/internal/output-batches.js'
import { sliceFull } from '../../topologies/runtime/internal/slice-bounds.js'

const record = (bytes: number) => ({ key: Buffer.from('k'), value: Buffer.alloc(bytes) })

describe('produceRequests', () => {
  it('splits records past 1 MB into requests under the limit, in order, none lost', () => {
    const records = Array.from({ length: 50 }, (_, i) => ({ ...record(100_000), i }))
    const chunks = produceRequests(records)
    expect(chunks.length).toBeGreaterThan(4)
    for (const chunk of chunks) {
      const bytes = chunk.reduce((sum, r) => sum + recordBytes(r), 0)
      expect(bytes).toBeLessThanOrEqual(maxRecordBytes(DEFAULT_MAX_BATCH_BYTES))
    }
    expect(chunks.flat().map((r) => r.i)).toEqual(records.map((r) => r.i))
  })

  it('keeps small records in one request up to the record bound, and counts headers', () => {
    expect(produceRequests(Array.from({ length: 500 }, () => record(100)))).toHaveLength(1)
    const total = 2 * MAX_RECORDS_PER_REQUEST + 201
    const many = produceRequests(Array.from({ length: total }, (_, i) => ({ ...record(10), i })))
    expect(many.map((c) => c.length)).toEqual([
      MAX_RECORDS_PER_REQUEST,
      MAX_RECORDS_PER_REQUEST,
      201,
    ])
    expect(many.flat().map((r) => r.i)).toEqual(Array.from({ length: total }, (_, i) => i))
    const plain = recordBytes(record(10))
    expect(recordBytes({ ...record(10), headers: { trace: 'x'.repeat(50) } })).toBeGreaterThan(
      plain + 55,
    )
  })

  it('gives a record larger than the limit a request of its own', () => {
    const chunks = produceRequests([record(10), record(2_000), record(10)], 1_000)
    expect(chunks.map((c) => c.length)).toEqual([1, 1, 1])
  })
})

describe('sliceFull', () => {
  const limits = { records: 1_000, bytes: 4_000_000, ms: 500 }
  it('ends a slice at whichever bound comes first', () => {
    expect(sliceFull(limits, 999, 100, 0, 10)).toBe(false)
    expect(sliceFull(limits, 1_000, 100, 0, 10)).toBe(true)
    expect(sliceFull(limits, 10, 4_000_000, 0, 10)).toBe(true)
    expect(sliceFull(limits, 10, 100, 0, 500)).toBe(true)
  })
})

describe('ChangeloggedStore byte accounting', () => {
  it('counts pending changelog bytes, replacing a key’s earlier write, and clears on commit', async () => {
    const store = new ChangeloggedStore('s', new MemoryStore())
    store.put(Buffer.from('a'), Buffer.alloc(1_000))
    const one = store.pendingBytes()
    expect(one).toBeGreaterThan(1_000)
    store.put(Buffer.from('a'), Buffer.alloc(10))
    expect(store.pendingBytes()).toBe(one - 990)
    store.delete(Buffer.from('b'))
    expect(store.pendingBytes()).toBeGreaterThan(one - 990)
    await store.commit()
    expect(store.pendingBytes()).toBe(0)
  })

  it('refuses a write whose changelog record Kafka would refuse, when it is made', () => {
    const store = new ChangeloggedStore('s', new MemoryStore(), { maxRecordBytes: 1_000 })
    store.put(Buffer.from('small'), Buffer.alloc(100))
    const err = (() => {
      try {
        store.put(Buffer.from('big'), Buffer.alloc(2_000))
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ImflowError)
    expect((err as ImflowError).code).toBe('IMF_ERR_RECORD_TOO_LARGE')
    expect(store.pendingWrites()).toHaveLength(1)
  })
})
