// A wall-clock punctuation's commit that fails with its outcome unknown, on the real broker:
// no input position tells whether it went through, so redoing the punctuation (as after a
// failed commit known to be aborted) would send its outputs twice when the commit had in fact
// gone through. A ticker (each tick reads its counter, writes it + 1 and emits it) must emit
// exactly 1, 2, 3, ... per task while some of its commits fail that way, half of them after
// committing.

import type { Kafka } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../ops/log.js'
import { int64Serde, stringSerde, typedStore } from '../../state/index.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique } from './helpers.js'
import { type Fault, scratchState, stuckAfterCommits } from './runtime-support.js'

const TICK_MS = 20
/** Ticks per task after the last fault: the reopened tasks go on from where they committed. */
const TICKS_AFTER = 20

/** `ticked`: each task's last tick, committed or not, for the test to follow. */
const tickerTopology = (input: string, output: string, ticked: Map<number, number>) =>
  defineTopology({
    name: 'ticker',
    sources: [{ topic: input }],
    sinks: { ticks: { topic: output, partitionBy: 'task' } },
    stores: ['ticks'],
    processor: (context) => {
      const ticks = typedStore(context.store('ticks'), stringSerde, int64Serde)
      context.schedule(TICK_MS, 'wall-clock', async () => {
        const n = ((await ticks.get('n')) ?? 0) + 1
        ticks.put('n', n)
        ticked.set(context.partition, n)
        context.send('ticks', { key: `p${context.partition}`, value: Buffer.from(String(n)) })
      })
      return { process() {} }
    },
  })

/** Every committed tick per task, read until nothing more came for a while (the ticker is stopped). */
async function readTicks(kafka: Kafka, topic: string): Promise<Map<string, number[]>> {
  const seen = new Map<string, number[]>()
  let lastAt = Date.now()
  const consumer = kafka.consumer({ groupId: unique('ticks-reader'), readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      const key = message.key?.toString() ?? ''
      seen.set(key, [...(seen.get(key) ?? []), Number(message.value?.toString())])
      lastAt = Date.now()
    },
  })
  try {
    await eventually(() => (seen.size > 0 && Date.now() - lastAt > 3_000 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the ticks to be read',
    })
  } finally {
    await consumer.disconnect()
  }
  return seen
}

describe.each(['task', 'thread'] as const)(
  'runtime: a punctuation whose commit outcome is unknown, transactions per %s',
  (scope) => {
    const kafka = testKafka()
    const [input, output, app] = ['tick-in', 'tick-out', 'tick-app'].map(unique) as [
      string,
      string,
      string,
    ]
    const state = scratchState('tick', { [input]: 2, [output]: 2 })

    it('emits every tick once: restored from its changelog, not redone', {
      timeout: 120_000,
    }, async () => {
      const faults: Fault[] = ['committed', 'aborted', 'committed', 'aborted']
      const lines: string[] = []
      const ticked = new Map<number, number>()
      const running = await startTopology(tickerTopology(input, output, ticked), {
        kafka: stuckAfterCommits(kafka, faults),
        appId: app,
        stateDir: state.dir,
        log: createLogger('info', (line) => lines.push(line)),
        transactionScope: scope,
      })
      try {
        await eventually(() => (faults.length === 0 ? true : undefined), {
          timeoutMs: 60_000,
          what: 'every fault to be met',
        })
        // Both tasks tick on past the faults (a reopened one restored first).
        const atLastFault = new Map(ticked)
        await eventually(
          () =>
            [0, 1].every((p) => (ticked.get(p) ?? 0) >= (atLastFault.get(p) ?? 0) + TICKS_AFTER)
              ? true
              : undefined,
          { timeoutMs: 60_000, what: `${TICKS_AFTER} more ticks of each task` },
        )
      } finally {
        await running.stop()
      }
      const ticks = await readTicks(kafka, output)
      expect([...ticks.keys()].sort()).toEqual(['p0', 'p1'])
      for (const [key, values] of ticks) {
        expect(values.length, key).toBeGreaterThanOrEqual(TICKS_AFTER)
        expect(values, key).toEqual(Array.from({ length: values.length }, (_, i) => i + 1))
      }
      // The faults met punctuations' commits, which nothing could settle.
      expect(lines.some((l) => l.includes('its outcome cannot be asked'))).toBe(true)
    })
  },
)
