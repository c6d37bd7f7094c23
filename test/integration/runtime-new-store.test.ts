// A store added to a topology that has run before, with no fold declared: the runtime says at
// start that it builds it from the log (naming it), each task rebuilds it by a shadow run
// before it opens (runtime-store-rebuild.test.ts shows the state equals a run that had it
// from the start), and it warns, naming the stores, where the rebuild cannot give everything:
// records retention deleted, and what wall-clock punctuators would have written. A topology added whole (a new group) is the backfill case
// instead (backfill.test.ts), and so is a store declared with a fold
// (runtime-backfill.test.ts). docs/replay.md, "Backfill".

import { describe, expect, it } from 'vitest'
import { createLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import { scratchState, testScope, waitForConsumed } from './runtime-support.js'

describe('runtime: a store added to a running topology', () => {
  const kafka = testKafka()
  const input = unique('late-store-in')
  const cut = unique('late-store-cut')
  const ticks = unique('late-store-ticks')
  const state = scratchState('late-store', { [input]: 1, [cut]: 1, [ticks]: 1 })

  /** Every record's key into each of `stores`; `ticking`: with a wall-clock punctuator. */
  const version = (topic: string, stores: string[], ticking = false) =>
    defineTopology({
      name: 'late',
      sources: [{ topic }],
      stores,
      processor: (context) => {
        if (ticking) context.schedule(60_000, 'wall-clock', () => {})
        return {
          process(record) {
            for (const s of stores)
              context.store(s).put(record.key ?? Buffer.alloc(0), Buffer.from('1'))
          },
        }
      },
    })

  async function send(topic: string, keys: string[]) {
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic, messages: keys.map((key) => ({ key, value: key })) })
    await producer.disconnect()
  }

  it('says it builds the new store from the log, and it holds what came before', {
    timeout: 120_000,
  }, async () => {
    const app = unique('late-store-app')
    const lines: string[] = []
    await send(input, ['a', 'b'])
    const log = createLogger('info', (line) => lines.push(line))
    const start = (stores: string[]) =>
      startTopology(version(input, stores), {
        kafka,
        appId: app,
        transactionScope: testScope(),
        stateDir: state.dir,
        log,
      })
    const first = await start(['seen'])
    try {
      await waitForConsumed(kafka, `${app}-late`, input, 60_000)
    } finally {
      await first.stop()
    }
    // A first start of a whole topology (no positions yet) builds nothing.
    expect(lines.filter((l) => l.includes('new stores') || l.includes('rebuild'))).toEqual([])

    await send(input, ['c'])
    const second = await start(['seen', 'added'])
    try {
      const said = lines.filter((l) => l.includes('new stores in a topology'))
      expect(said).toHaveLength(1)
      expect(said[0]).toContain('shadowRun=["added"]')
      await waitForConsumed(kafka, `${app}-late`, input, 60_000)
      const added = second.committedStore(0, 'added')
      // What came before the store existed is in it, and what came after.
      for (const key of ['a', 'b', 'c'])
        expect(await added?.get(Buffer.from(key)), key).toBeDefined()
      expect(lines.join('\n')).not.toContain('no longer holds')
    } finally {
      await second.stop()
    }
  })

  it('warns, naming the store, when retention deleted the start of the log', {
    timeout: 120_000,
  }, async () => {
    const app = unique('late-cut-app')
    const lines: string[] = []
    await send(cut, ['a', 'b', 'c'])
    const log = createLogger('info', (line) => lines.push(line))
    const start = (stores: string[]) =>
      startTopology(version(cut, stores), { kafka, appId: app, stateDir: state.dir, log })
    const first = await start(['seen'])
    try {
      await waitForConsumed(kafka, `${app}-late`, cut, 60_000)
    } finally {
      await first.stop()
    }
    // What retention would do: the first record is gone from the log.
    await withAdmin(async (admin) => {
      // kafkajs finds the partition's leader in metadata it must have loaded first.
      await admin.fetchTopicMetadata({ topics: [cut] })
      await admin.deleteTopicRecords({ topic: cut, partitions: [{ partition: 0, offset: '1' }] })
    })
    const second = await start(['seen', 'added'])
    try {
      // Nothing new to process: the task is open once its rebuild is done.
      const added = await eventually(async () => second.committedStore(0, 'added'), {
        timeoutMs: 60_000,
        what: 'the task to open',
      })
      expect(await added.get(Buffer.from('a'))).toBeUndefined()
      expect(await added.get(Buffer.from('b'))).toBeDefined()
      const warning = lines.find((l) => l.includes('no longer holds the start'))
      expect(warning, lines.join('\n')).toContain('stores=["added"]')
      expect(warning).toContain(`${cut}@1`)
    } finally {
      await second.stop()
    }
  })

  it('warns, naming the store, that wall-clock punctuators did not run in the rebuild', {
    timeout: 120_000,
  }, async () => {
    const app = unique('late-ticks-app')
    const lines: string[] = []
    await send(ticks, ['a'])
    const log = createLogger('info', (line) => lines.push(line))
    const start = (stores: string[]) =>
      startTopology(version(ticks, stores, true), { kafka, appId: app, stateDir: state.dir, log })
    const first = await start(['seen'])
    try {
      await waitForConsumed(kafka, `${app}-late`, ticks, 60_000)
    } finally {
      await first.stop()
    }
    expect(lines.join('\n')).not.toContain('wall-clock punctuators')
    const second = await start(['seen', 'added'])
    try {
      const added = await eventually(async () => second.committedStore(0, 'added'), {
        timeoutMs: 60_000,
        what: 'the task to open',
      })
      // Built all the same, from what the records write.
      expect(await added.get(Buffer.from('a'))).toBeDefined()
      const warning = lines.find((l) => l.includes('wall-clock punctuators'))
      expect(warning, lines.join('\n')).toContain('stores=["added"]')
    } finally {
      await second.stop()
    }
  })
})
