// A sink that carries a table's changes (`latestPerKey`): within one transaction a key's
// records merge and only the latest goes, at the commit, while the record cache is on.

import { describe, expect, it } from 'vitest'
import { countTopology } from '../../bench/count-topology.js'
import { silentLogger } from '../../ops/log.js'
import { ChangeloggedStore, MemoryStore } from '../../state/index.js'
import { defineTopology } from '../../topologies/runtime/index.js'
import { recordBytes } from '../../topologies/runtime/internal/output-batches.js'
import { type ConsumedMessage, TaskCore } from '../../topologies/runtime/internal/task-core.js'

const input = 'in'

function core(cacheMaxBytes: number | undefined, latestPerKey = true) {
  return new TaskCore({
    appId: 'latest',
    topology: countTopology(input, 'out', { latestPerKey }),
    partition: 0,
    stores: new Map([['counts', new ChangeloggedStore('counts', new MemoryStore())]]),
    log: silentLogger,
    cacheMaxBytes,
  })
}

let offset = 0
const record = (key: string | null): ConsumedMessage => ({
  offset: String(offset++),
  timestamp: String(Date.now()),
  key: key === null ? null : Buffer.from(key),
  value: Buffer.from('x'),
})

async function processKeys(task: TaskCore, keys: readonly (string | null)[]) {
  for (const key of keys) await task.process(input, record(key))
}

/** The counts sent to the output, as `key=count`. */
const counts = (records: readonly { topic: string; key: Buffer | null; value: Buffer | null }[]) =>
  records.filter((r) => r.topic === 'out').map((r) => `${r.key}=${r.value}`)

describe('latestPerKey sinks', () => {
  it('send only each key its latest record of the transaction, at the commit', async () => {
    const task = core(10 * 1024 * 1024)
    await processKeys(task, ['a', 'b', 'a', 'a', 'c', 'b'])
    // A slice's end sends what is ready: the merged counts wait for the commit.
    expect(counts(task.takeRecords(false))).toEqual([])
    expect(counts(task.takeRecords(true))).toEqual(['a=3', 'b=2', 'c=1'])
    await task.commit()
    await processKeys(task, ['a'])
    expect(counts(task.takeRecords(true))).toEqual(['a=4'])
  })

  it('send every record without the record cache, or where the sink does not ask', async () => {
    for (const task of [core(0), core(10 * 1024 * 1024, false)]) {
      await processKeys(task, ['a', 'a', 'b'])
      expect(counts(task.takeRecords(false))).toEqual(['a=1', 'a=2', 'b=1'])
    }
  })

  it('send all they hold at once when they outgrow the cache', async () => {
    // Two keys' merged counts fit, a third's does not.
    const one = recordBytes({ key: Buffer.from('a'), value: Buffer.from('1') })
    const task = core(2.5 * one)
    await processKeys(task, ['a', 'a', 'b'])
    expect(counts(task.takeRecords(false))).toEqual([])
    await processKeys(task, ['c'])
    expect(counts(task.takeRecords(false))).toEqual(['a=2', 'b=1', 'c=1'])
    expect(task.pendingBytes()).toBe(0)
  })

  it('forget what they hold on an abort', async () => {
    const task = core(undefined)
    await processKeys(task, ['a', 'a'])
    task.rollback(Number.NEGATIVE_INFINITY)
    expect(task.pendingBytes()).toBe(0)
    expect(counts(task.takeRecords(true))).toEqual([])
  })

  it('send a record without a key at once', async () => {
    const echo = defineTopology({
      name: 'echo',
      sources: [{ topic: input }],
      sinks: { out: { topic: 'out', latestPerKey: true } },
      processor: (context) => ({
        process: (r) => context.send('out', { key: r.key, value: r.value as Buffer }),
      }),
    })
    const task = new TaskCore({
      appId: 'latest',
      topology: echo,
      partition: 0,
      stores: new Map(),
      log: silentLogger,
    })
    await processKeys(task, [null, 'a', null])
    const sent = task.takeRecords(false)
    expect(sent.map((r) => r.key)).toEqual([null, null])
    expect(task.takeRecords(true).map((r) => r.key?.toString())).toEqual(['a'])
  })
})
