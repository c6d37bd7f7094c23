// A fetch that kafkajs filters to nothing (an aborted transaction's records and its marker)
// reaches no eachBatch. A task must still commit past it: else a partition that ends in one
// stays short of its end, and every "caught up" check (committed >= high watermark: the
// tests', the replay's drain) waits forever. Past it, and never past a record it holds.

import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, transactionalProducer, unique, withAdmin } from './helpers.js'
import { committedSum, scratchState, testScope } from './runtime-support.js'

describe('runtime: a fetch filtered to nothing', () => {
  const input = unique('filtered-in')
  const app = unique('filtered-app')
  const state = scratchState('filtered', { [input]: 1 })

  it('commits past an aborted transaction at the end of a partition, and nothing of it is processed', {
    timeout: 180_000,
  }, async () => {
    const kafka = testKafka()
    const processed: string[] = []
    const topology = defineTopology({
      name: 'filtered',
      sources: [{ topic: input }],
      stores: ['seen'],
      processor: (context) => ({
        async process(record) {
          context.store('seen').put(Buffer.from(String(record.value)), Buffer.from('1'))
          processed.push(String(record.value))
        },
      }),
    })
    const running = await startTopology(topology, {
      kafka,
      appId: app,
      transactionScope: testScope(),
      stateDir: state.dir,
      log: silentLogger,
    })
    const producer = transactionalProducer(kafka, 'filtered-writer')
    await producer.connect()
    const high = () =>
      withAdmin(async (admin) => Number((await admin.fetchTopicOffsets(input))[0]?.high))
    const write = async (values: string[], outcome: 'commit' | 'abort') => {
      const txn = await producer.transaction()
      await txn.send({ topic: input, messages: values.map((value) => ({ value, partition: 0 })) })
      await txn[outcome]()
    }
    const caughtUp = async (what: string) => {
      const end = await high()
      await eventually(
        async () =>
          (await committedSum(kafka, `${app}-filtered`, input)) === end ? true : undefined,
        { what, timeoutMs: 60_000 },
      )
    }
    try {
      const committed = Array.from({ length: 10 }, (_, i) => `c${i}`)
      await write(committed, 'commit')
      await caughtUp('the committed records and their marker')
      // Fetched on its own (the task is at the end already): 5 aborted records and a marker.
      await write(['a0', 'a1', 'a2', 'a3', 'a4'], 'abort')
      expect(await high()).toBe(17)
      await caughtUp('the aborted transaction passed')
      // And a record after it is processed: the position passed the stretch, not beyond it.
      await write(['after'], 'commit')
      await caughtUp('the record after it')
      expect(processed).toEqual([...committed, 'after'])
      expect(await running.committedStore(0, 'seen')?.get(Buffer.from('a0'))).toBeUndefined()
    } finally {
      await producer.disconnect()
      await running.stop()
    }
  })
})
