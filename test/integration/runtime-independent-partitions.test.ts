// One task that takes long (a big group's fan-out, a flood) must not hold up the others:
// kafkajs fetches again only when every batch of a fetch is done, so the runtime hands each
// batch to its task and pauses that partition alone (batch-handler.ts).

import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique } from './helpers.js'
import { committedSum, scratchState, testScope } from './runtime-support.js'

describe('runtime: partitions go on independently', () => {
  const input = unique('indep-in')
  const app = unique('indep-app')
  const state = scratchState('indep', { [input]: 2 })

  it('processes one partition while the other’s task is busy', { timeout: 120_000 }, async () => {
    const kafka = testKafka()
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let slowStarted = false
    const processed = new Map<number, number>()
    const topology = defineTopology({
      name: 'indep',
      sources: [{ topic: input }],
      stores: ['seen'],
      processor: (context) => ({
        async process(record) {
          if (String(record.value) === 'slow') {
            slowStarted = true
            await gate
          }
          context.store('seen').put(Buffer.from(record.offset), Buffer.from('1'))
          processed.set(record.partition, (processed.get(record.partition) ?? 0) + 1)
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
    const producer = kafka.producer()
    await producer.connect()
    try {
      await producer.send({ topic: input, messages: [{ partition: 0, value: 'slow' }] })
      await eventually(() => (slowStarted ? true : undefined), { what: 'the slow record started' })
      await producer.send({
        topic: input,
        messages: Array.from({ length: 5 }, (_, i) => ({ partition: 1, value: `quick ${i}` })),
      })
      // Partition 1's records, fetched after partition 0's batch, commit while it waits.
      await eventually(
        async () => ((await committedSum(kafka, `${app}-indep`, input)) === 5 ? true : undefined),
        { what: "partition 1's records committed", timeoutMs: 20_000 },
      )
      expect(processed.get(0) ?? 0).toBe(0)
      release()
      await eventually(
        async () => ((await committedSum(kafka, `${app}-indep`, input)) === 6 ? true : undefined),
        { what: 'every record committed' },
      )
      expect([processed.get(0), processed.get(1)]).toEqual([1, 5])
    } finally {
      release()
      await producer.disconnect()
      await running.stop()
    }
  })
})
