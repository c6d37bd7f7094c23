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
    // The partition's end (read committed: the last stable offset) once a transaction's marker
    // is written, which the coordinator does after it has answered the commit or abort.
    const caughtUp = async (what: string, end: number) => {
      await eventually(async () => ((await high()) === end ? true : undefined), {
        what: `the partition to end at ${end}`,
        timeoutMs: 60_000,
      })
      await eventually(
        async () =>
          (await committedSum(kafka, `${app}-filtered`, input)) === end ? true : undefined,
        { what, timeoutMs: 60_000 },
      )
    }
    try {
      const committed = Array.from({ length: 10 }, (_, i) => `c${i}`)
      await write(committed, 'commit')
      await caughtUp('the committed records and their marker', 11)
      // Fetched on its own (the task is at the end already): 5 aborted records and a marker.
      await write(['a0', 'a1', 'a2', 'a3', 'a4'], 'abort')
      await caughtUp('the aborted transaction passed', 17)
      // And a record after it is processed: the position passed the stretch, not beyond it.
      await write(['after'], 'commit')
      await caughtUp('the record after it', 19)
      expect(processed).toEqual([...committed, 'after'])
      expect(await running.committedStore(0, 'seen')?.get(Buffer.from('a0'))).toBeUndefined()
    } finally {
      await producer.disconnect()
      await running.stop()
    }
  })
})
