// One transaction per thread (IMFLOW_TRANSACTION_SCOPE=thread) has no producer per task to
// fence a zombie: the group coordinator must (KIP-447). Runner A's tasks each send a record's
// output in A's shared transaction, then stall mid-transaction. Runner B joins, the group
// rebalances, and some of A's partitions move to B, which processes their records again. When
// A's tasks go on, their transaction carries the generation it began in: the coordinator refuses
// its offsets, the transaction aborts, and every record's output is committed exactly once.
// Committing with the membership A holds after it rejoined would commit the moved records twice.

import { describe, expect, it } from 'vitest'
import { createLogger, silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique } from './helpers.js'
import { committedSum, readCommittedValues, scratchState } from './runtime-support.js'

const PARTITIONS = 4

describe('runtime: one transaction per thread fences a zombie runner', () => {
  const input = unique('zombie-in')
  const output = unique('zombie-out')
  const app = unique('zombie-app')
  const stateA = scratchState('zombie-a', { [input]: PARTITIONS, [output]: PARTITIONS })
  const stateB = scratchState('zombie-b')

  it('refuses the stale generation’s commit after a rebalance', { timeout: 180_000 }, async () => {
    const kafka = testKafka()
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const stalled = new Set<number>()
    const processedByB = new Set<number>()
    const topology = (runner: 'a' | 'b') =>
      defineTopology({
        name: 'zombie',
        sources: [{ topic: input }],
        sinks: { out: { topic: output, partitionBy: 'task' } },
        stores: ['seen'],
        processor: (context) => ({
          async process(record) {
            const value = String(record.value)
            context.store('seen').put(Buffer.from(value), Buffer.from('1'))
            context.send('out', { key: null, value: Buffer.from(value) })
            if (runner === 'b') processedByB.add(record.partition)
            else if (value.startsWith('hold')) {
              stalled.add(record.partition)
              await gate
            }
          },
        }),
      })
    const warnings: string[] = []
    const common = { kafka, appId: app, transactionScope: 'thread' as const }
    // A: a slice per record and long transactions, so each task sends its first record's
    // output in the shared transaction (the one of the generation it began in) and stalls.
    const a = await startTopology(topology('a'), {
      ...common,
      stateDir: stateA.dir,
      log: createLogger('warn', (line) => warnings.push(line)),
      sliceLimits: { records: 1, bytes: 4 * 1024 * 1024, ms: 500 },
      commitIntervalMs: 60_000,
    })
    let b: Awaited<ReturnType<typeof startTopology>> | undefined
    const producer = kafka.producer()
    await producer.connect()
    try {
      await eventually(() => (a.healthy().ok ? true : undefined), { what: 'A to join' })
      const sent: string[] = []
      for (let p = 0; p < PARTITIONS; p++) {
        const values = [`first ${p}`, `hold ${p}`]
        sent.push(...values)
        await producer.send({
          topic: input,
          messages: values.map((value) => ({ partition: p, value })),
        })
      }
      await eventually(() => (stalled.size === PARTITIONS ? true : undefined), {
        what: "every one of A's tasks stalled mid-transaction",
      })
      b = await startTopology(topology('b'), { ...common, stateDir: stateB.dir, log: silentLogger })
      // B took some of A's partitions and committed their records itself.
      await eventually(
        async () =>
          processedByB.size > 0 &&
          (await committedSum(kafka, `${app}-zombie`, input)) >= 2 * processedByB.size
            ? true
            : undefined,
        { what: 'B to commit the partitions it took over', timeoutMs: 90_000 },
      )
      expect(processedByB.size).toBeLessThan(PARTITIONS)
      // A's transaction has waited on its stalled tasks all along: the log names them.
      await eventually(
        () =>
          warnings.some((w) => /transaction is still open .*waitingFor=\["zombie-/.test(w))
            ? true
            : undefined,
        { what: "A's open transaction named in the log with the tasks it waits for" },
      )
      release()
      await eventually(
        async () =>
          (await committedSum(kafka, `${app}-zombie`, input)) === sent.length ? true : undefined,
        { what: 'every record committed', timeoutMs: 90_000 },
      )
      const outputs = await readCommittedValues(kafka, output, sent.length)
      expect(outputs.sort()).toEqual([...sent].sort())
      // The coordinator refused A's stale generation: its tasks were taken over, not retried.
      expect(warnings.join('\n')).toMatch(/taken over/)
    } finally {
      release()
      await producer.disconnect()
      await b?.stop()
      await a.stop()
    }
  })
})
