// The Kafka-free parts of a store backfill (docs/replay.md, "Backfill"): what the changelog
// says to do (backfill-plan.ts), how a record is folded as the task would have taken it
// (backfill-fold.ts), and that a topology's fold is what its processor writes the store with.

import { describe, expect, it } from 'vitest'
import { backfillTopology } from '../../bench/sum-topology.js'
import { ImflowError } from '../../ops/errors.js'
import { silentLogger } from '../../ops/log.js'
import {
  ChangeloggedStore,
  MemoryStore,
  type ReadWriteStore,
  stringSerde,
} from '../../state/index.js'
import {
  backfilled,
  declareStore,
  defineTopology,
  partitionForKey,
  type StoreBackfill,
  TopologyTestDriver,
} from '../../topologies/runtime/index.js'
import { backfillStores } from '../../topologies/runtime/internal/backfill.js'
import { BackfillFold } from '../../topologies/runtime/internal/backfill-fold.js'
import {
  type BackfillProgress,
  decodeProgress,
  encodeProgress,
  fromHistory,
  readRange,
} from '../../topologies/runtime/internal/backfill-plan.js'
import { REROUTED_FROM } from '../../topologies/runtime/internal/misplaced.js'
import type { ConsumedMessage } from '../../topologies/runtime/internal/task-core.js'

const pending = (next: number, target: number): BackfillProgress => ({
  topic: 'in',
  next,
  target,
  done: false,
})

describe('backfill plan', () => {
  it('builds only a store new to the task: no checkpoint, no progress, no data', () => {
    const none = { fromCheckpoint: false, progress: undefined, hasData: false }
    expect(fromHistory(none)).toEqual({ kind: 'new' })
    expect(fromHistory({ ...none, fromCheckpoint: true })).toEqual({ kind: 'built' })
    expect(fromHistory({ ...none, hasData: true })).toEqual({ kind: 'existing' })
    expect(fromHistory({ ...none, hasData: true, progress: pending(5, 9) })).toEqual({
      kind: 'resume',
      progress: pending(5, 9),
    })
    const done = { ...pending(9, 9), done: true }
    expect(fromHistory({ ...none, progress: done })).toEqual({ kind: 'built' })
  })

  it('reads from the earliest retained offset up to the committed position', () => {
    const fresh = { kind: 'new' } as const
    expect(readRange(fresh, { committed: 120, low: 20, high: 150 })).toEqual({
      from: 20,
      target: 120,
      cut: false,
    })
    // No position: the task reads the partition from its start itself.
    const nothing = readRange(fresh, { committed: undefined, low: 20, high: 150 })
    expect(nothing.from).toBe(nothing.target)
    // Everything it had read is gone by retention: nothing left to fold.
    const gone = readRange(fresh, { committed: 10, low: 20, high: 150 })
    expect(gone.from).toBeGreaterThanOrEqual(gone.target)
    // A position past the end (a topic made again): cut there, and said.
    expect(readRange(fresh, { committed: 500, low: 0, high: 150 })).toEqual({
      from: 0,
      target: 150,
      cut: true,
    })
  })

  it('resumes at the committed progress, with the target fixed when it began', () => {
    const resume = { kind: 'resume', progress: pending(70, 120) } as const
    expect(readRange(resume, { committed: 400, low: 20, high: 500 })).toEqual({
      from: 70,
      target: 120,
      cut: false,
    })
    // Retention passed the progress meanwhile: on from the earliest there is.
    expect(readRange(resume, { committed: 400, low: 90, high: 500 }).from).toBe(90)
  })

  it('keeps its progress as a record that reads back, and refuses one that does not', () => {
    expect(decodeProgress(encodeProgress(pending(3, 8)))).toEqual(pending(3, 8))
    expect(() => decodeProgress(Buffer.from('{"next":1}'))).toThrow(ImflowError)
  })
})

function message(offset: number, key: string, value: string | null, headers = {}) {
  return {
    offset: String(offset),
    timestamp: String(1_000 + offset),
    key: Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers,
  } satisfies ConsumedMessage
}

async function contents(store: ReadWriteStore): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for await (const [key, value] of store.range()) out[key.toString()] = value.toString('hex')
  return out
}

describe('backfill fold', () => {
  const last: StoreBackfill = {
    topic: 'in',
    fold: (record, store) => {
      const { key, value } = record.value as { key: string; value: string }
      if (value === 'boom') throw new ImflowError('IMF_ERR_INVALID_ACTION', 'refused')
      if (value === 'later') throw Object.assign(new Error('registry down'), { retriable: true })
      store.put(Buffer.from(key), Buffer.from(value))
    },
  }
  const topology = (onProcessingError?: 'fail') =>
    defineTopology({
      name: 't',
      sources: [
        {
          topic: 'in',
          decode: (b) => {
            const [key, value] = b.toString().split('=')
            if (value === undefined) throw new ImflowError('IMF_ERR_DECODE', 'no =')
            return { key, value }
          },
          owner: { key: (v) => (v as { key: string }).key, misplaced: 'reroute' },
        },
      ],
      stores: ['s'],
      processor: () => ({ process() {} }),
      ...(onProcessingError ? { onProcessingError } : {}),
    })
  // Two partitions: which keys partition 0 owns.
  const here = ['a', 'b', 'c', 'd', 'e', 'f'].filter((k) => partitionForKey(k, 2) === 0)
  const away = ['a', 'b', 'c', 'd', 'e', 'f'].filter((k) => partitionForKey(k, 2) === 1)

  it('folds what the task processes here, and skips what it did not', async () => {
    const store = new ChangeloggedStore('s', new MemoryStore())
    const fold = new BackfillFold(topology(), last, store, 0, 2)
    const [mine, other] = [here[0] as string, away[0] as string]
    await fold.apply(message(0, mine, `${mine}=1`))
    await fold.apply(message(1, other, `${other}=1`)) // misplaced: folded at its owner
    await fold.apply(message(2, other, `${other}=2`, { [REROUTED_FROM]: '1' })) // a re-routed copy
    await fold.apply(message(3, mine, 'no-equals')) // dead-lettered when processed
    await fold.apply(message(4, mine, null)) // a tombstone where an event was expected
    await fold.apply(message(5, mine, `${mine}=boom`)) // the processor's error, dead-lettered
    const hex = (s: string) => Buffer.from(s).toString('hex')
    expect(await contents(store)).toEqual({ [mine]: hex('1'), [other]: hex('2') })
    expect(fold.counts).toEqual({ folded: 2, skipped: 4 })
  })

  it('throws what the task would retry, and stops under the fail policy', async () => {
    const store = new ChangeloggedStore('s', new MemoryStore())
    const mine = here[0] as string
    await expect(
      new BackfillFold(topology(), last, store, 0, 2).apply(message(0, mine, `${mine}=later`)),
    ).rejects.toThrow('registry down')
    await expect(
      new BackfillFold(topology('fail'), last, store, 0, 2).apply(message(0, mine, `${mine}=boom`)),
    ).rejects.toThrow('refused')
  })
})

describe('backfilled stores', () => {
  it('must be built from one of the topology sources', () => {
    const store = declareStore('s', stringSerde, stringSerde)
    expect(() =>
      defineTopology({
        name: 't',
        sources: [{ topic: 'in' }],
        stores: [backfilled(store, { topic: 'elsewhere', fold: () => {} })],
        processor: () => ({ process() {} }),
      }),
    ).toThrow(/elsewhere, which is not one of its sources/)
  })

  it('fold into the state the processor writes, record for record', async () => {
    const topology = backfillTopology('in', true)
    const driver = new TopologyTestDriver(topology)
    const messages = Array.from({ length: 50 }, (_, i) => message(i, `k${i % 7}`, String(i)))
    for (const m of messages)
      await driver.pipe('in', { key: m.key, value: m.value, timestamp: Number(m.timestamp) })
    const built = new ChangeloggedStore('sums', new MemoryStore())
    const fold = new BackfillFold(topology, topology.backfill?.sums as StoreBackfill, built, 0, 1)
    for (const m of messages) await fold.apply(m)
    await built.commit()
    const live = await contents(driver.store('sums'))
    expect(Object.keys(live)).toHaveLength(7)
    expect(await contents(built)).toEqual(live)
  })

  it('refuse to go on with a half-built store from another topic than it began with', async () => {
    const topology = backfillTopology('in', true)
    const store = new ChangeloggedStore('sums', new MemoryStore())
    const history = { fromCheckpoint: false, hasData: true, progress: pending(5, 9) }
    // Refused before anything is read or written: no Kafka is needed to see it.
    const refused = backfillStores({
      kafka: undefined as never,
      producer: undefined as never,
      appId: 'a',
      groupId: 'a-summing',
      stateDir: '/nonexistent',
      topology: { ...topology, backfill: { sums: { topic: 'other', fold: () => {} } } },
      partition: 0,
      log: silentLogger,
      taskId: 'summing-0',
      stores: new Map([['sums', store]]),
      histories: new Map([['sums', history]]),
      ended: () => {},
    })
    await expect(refused).rejects.toThrow(
      /half built from in, and is now declared built from other/,
    )
  })
})
