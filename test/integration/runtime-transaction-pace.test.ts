// The transaction pace (IMFLOW_TRANSACTION_PACE_MS, thread scope): a runner begins a
// transaction at most once per pace, so records that trickle in share a few transactions
// instead of one each; every record still comes out exactly once. Counted on the real broker:
// each transaction leaves one commit marker in the output partition it wrote, so the
// partition's end offset is its records plus its transactions.

import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import { readCommittedValues, scratchState } from './runtime-support.js'

const RECORDS = 30
const GAP_MS = 40
const PACE_MS = 300

describe('runtime: the transaction pace', () => {
  const input = unique('pace-in')
  const output = unique('pace-out')
  const state = scratchState('pace', { [input]: 1, [output]: 1 })

  it('puts records that trickle in into one transaction per pace', {
    timeout: 120_000,
  }, async () => {
    const kafka = testKafka()
    const topology = defineTopology({
      name: 'pace',
      sources: [{ topic: input }],
      sinks: { out: { topic: output, partitionBy: 'task' } },
      processor: (context) => ({
        async process(record) {
          context.send('out', { key: null, value: Buffer.from(String(record.value)) })
        },
      }),
    })
    const running = await startTopology(topology, {
      kafka,
      appId: unique('pace-app'),
      stateDir: state.dir,
      log: silentLogger,
      transactionScope: 'thread',
      transactionPaceMs: PACE_MS,
    })
    const producer = kafka.producer()
    await producer.connect()
    try {
      await eventually(() => (running.healthy().ok ? true : undefined), {
        what: 'the runner to join',
      })
      const sent: string[] = []
      const began = performance.now()
      for (let i = 0; i < RECORDS; i++) {
        sent.push(`r${i}`)
        await producer.send({ topic: input, messages: [{ value: `r${i}` }] })
        await new Promise((r) => setTimeout(r, GAP_MS))
      }
      const outputs = await readCommittedValues(kafka, output, RECORDS)
      const seconds = (performance.now() - began) / 1000
      expect(outputs.sort()).toEqual(sent.sort())
      const [end] = await withAdmin((admin) => admin.fetchTopicOffsets(output))
      const transactions = Number(end?.high) - RECORDS
      // One record every 40 ms, each its own transaction without the pace (~30); with it, one
      // per 300 ms of the run (read included), and the first.
      expect(transactions).toBeGreaterThan(0)
      expect(transactions).toBeLessThanOrEqual(Math.ceil((seconds * 1000) / PACE_MS) + 1)
      expect(transactions).toBeLessThan(RECORDS / 2)
    } finally {
      await producer.disconnect()
      await running.stop()
    }
  })
})
