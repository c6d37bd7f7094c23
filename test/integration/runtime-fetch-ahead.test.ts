// Fetching ahead (batch-handler.ts): a partition goes on being fetched while its task works,
// so a task holds several batches of one topic at once. Slices smaller than those batches and
// slow commits make a transaction stop part way through one of them with the next one queued
// behind it: the next one must wait, else its position commits past the records left (the
// shaping bench lost 20 flood records so before the fix).

import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique } from './helpers.js'
import { committedSum, scratchState, testScope } from './runtime-support.js'

const RECORDS = 300
const BURST = 20

describe('runtime: fetching ahead', () => {
  const input = unique('ahead-in')
  const app = unique('ahead-app')
  const state = scratchState('ahead', { [input]: 1 })

  it('takes every record once when a task holds several batches of a topic and its slices stop part way', {
    timeout: 180_000,
  }, async () => {
    const kafka = testKafka()
    const processed: string[] = []
    const topology = defineTopology({
      name: 'ahead',
      sources: [{ topic: input }],
      stores: ['seen'],
      processor: (context) => ({
        async process(record) {
          context.store('seen').put(Buffer.from(String(record.value)), Buffer.from('1'))
          processed.push(String(record.value))
        },
        // Slow commits: the next bursts are fetched (ahead) and queued meanwhile.
        beforeCommit: () => new Promise((r) => setTimeout(r, 60)),
      }),
    })
    const running = await startTopology(topology, {
      kafka,
      appId: app,
      transactionScope: testScope(),
      stateDir: state.dir,
      log: silentLogger,
      // Slices of 7 records: batches of 20 stop part way in nearly every transaction.
      sliceLimits: { records: 7, bytes: 4 * 1_048_576, ms: 500 },
    })
    const producer = kafka.producer()
    await producer.connect()
    try {
      for (let i = 0; i < RECORDS; i += BURST) {
        await producer.send({
          topic: input,
          messages: Array.from({ length: BURST }, (_, k) => ({
            partition: 0,
            value: String(i + k).padStart(4, '0'),
          })),
        })
        await new Promise((r) => setTimeout(r, 25))
      }
      await eventually(
        async () =>
          (await committedSum(kafka, `${app}-ahead`, input)) >= RECORDS ? true : undefined,
        { what: 'every record committed', timeoutMs: 120_000 },
      )
      const seen = running.committedStore(0, 'seen')
      const missing: string[] = []
      for (let i = 0; i < RECORDS; i++) {
        const key = String(i).padStart(4, '0')
        if ((await seen?.get(Buffer.from(key))) === undefined) missing.push(key)
      }
      expect(missing).toEqual([])
      // Processed in order, each once (no transaction failed here, so none was redone).
      expect(processed).toEqual(
        Array.from({ length: RECORDS }, (_, i) => String(i).padStart(4, '0')),
      )
    } finally {
      await producer.disconnect()
      await running.stop()
    }
  })
})
