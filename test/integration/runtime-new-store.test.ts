// A store added to a topology that has run before: its changelog is new, the group has
// positions, so it holds only records from now on (the group does not go back for it). The
// runtime says so at start, naming the store; a topology added whole (a new group) is the
// backfill case instead (backfill.test.ts), and so is a store declared with a backfill
// (runtime-backfill.test.ts). docs/replay.md, "Backfill".

import { describe, expect, it } from 'vitest'
import { createLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique } from './helpers.js'
import { scratchState, testScope, waitForConsumed } from './runtime-support.js'

describe('runtime: a store added to a running topology', () => {
  const kafka = testKafka()
  const input = unique('late-store-in')
  const app = unique('late-store-app')
  const state = scratchState('late-store', { [input]: 1 })

  /** Every record's key into each of `stores`. */
  const version = (stores: string[]) =>
    defineTopology({
      name: 'late',
      sources: [{ topic: input }],
      stores,
      processor: (context) => ({
        process(record) {
          for (const s of stores)
            context.store(s).put(record.key ?? Buffer.alloc(0), Buffer.from('1'))
        },
      }),
    })

  async function send(keys: string[]) {
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: input, messages: keys.map((key) => ({ key, value: key })) })
    await producer.disconnect()
  }

  it('warns that the new store starts empty, and it holds only what comes after', {
    timeout: 120_000,
  }, async () => {
    const lines: string[] = []
    const log = createLogger('warn', (line) => lines.push(line))
    const start = (stores: string[]) =>
      startTopology(version(stores), {
        kafka,
        appId: app,
        transactionScope: testScope(),
        stateDir: state.dir,
        log,
      })

    await send(['a', 'b'])
    const first = await start(['seen'])
    try {
      await waitForConsumed(kafka, `${app}-late`, input, 60_000)
    } finally {
      await first.stop()
    }
    // A first start of a whole topology (no positions yet) is no warning.
    expect(lines.filter((l) => l.includes('new stores'))).toEqual([])

    const second = await start(['seen', 'added'])
    try {
      expect(lines.filter((l) => l.includes('new stores'))).toHaveLength(1)
      expect(lines.find((l) => l.includes('new stores'))).toContain('stores=["added"]')
      await send(['c'])
      const added = await eventually(
        async () => {
          const store = second.committedStore(0, 'added')
          return (await store?.get(Buffer.from('c'))) ? store : undefined
        },
        { timeoutMs: 60_000, what: 'the added store to take a new record' },
      )
      // What came before the store existed is not in it; the old store has everything.
      expect(await added.get(Buffer.from('a'))).toBeUndefined()
      expect(await second.committedStore(0, 'seen')?.get(Buffer.from('a'))).toBeDefined()
    } finally {
      await second.stop()
    }
  })
})
