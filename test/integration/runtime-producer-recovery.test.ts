// Producers in states kafkajs does not leave by itself, on the real broker, under the
// counting topology: every key's counts must come out exactly 1..n (nothing lost, nothing
// doubled). A commit that failed after all went through or not (the answer lost, then the
// client stuck in COMMITTING, as after the OUT_OF_ORDER_SEQUENCE_NUMBER crash seen under
// load); and a topic whose max.message.bytes is far below the runtime's 1 MB request bound,
// so the broker refuses the runtime's batches (MESSAGE_TOO_LARGE) until it learns the limit.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { countTopology } from '../../bench/count-topology.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { createLogger } from '../../ops/log.js'
import { startTopology } from '../../topologies/runtime/index.js'
import { testKafka, unique, withAdmin } from './helpers.js'
import {
  expectExactCounts,
  type Fault,
  produceKeyed,
  readCounts,
  stuckAfterCommits,
  waitForConsumed,
} from './runtime-support.js'

/** Small enough that a produce request's outputs (up to 500 records of ~40 bytes) overflow one batch. */
const TOPIC_LIMIT = '2048'

// Both transaction scopes: a producer per task, and one per runner (IMFLOW_TRANSACTION_SCOPE).
describe.each(['task', 'thread'] as const)(
  'runtime: a producer in a fatal state, transactions per %s',
  (scope) => {
    const kafka = testKafka()
    let stateDir: string

    beforeAll(async () => {
      stateDir = await mkdtemp(join(tmpdir(), 'imflow-fatal-'))
    })
    afterAll(async () => {
      await rm(stateDir, { recursive: true, force: true })
    })

    it('counts exactly once when commits fail and leave the client stuck in COMMITTING', {
      timeout: 240_000,
    }, async () => {
      const [input, output, app] = ['stuck-in', 'stuck-out', 'stuck-app'].map(unique) as [
        string,
        string,
        string,
      ]
      await withAdmin((admin) =>
        createTopicsAndWait(admin, [
          { topic: input, numPartitions: 2 },
          { topic: output, numPartitions: 2 },
        ]),
      )
      const expected = await produceKeyed(kafka, input, 20_000, 200)
      // Half the failed commits did commit (the answer was lost), half did not.
      const faults: Fault[] = ['committed', 'aborted', 'committed', 'aborted']
      const lines: string[] = []
      const running = await startTopology(countTopology(input, output), {
        kafka: stuckAfterCommits(kafka, faults),
        appId: app,
        stateDir,
        log: createLogger('info', (line) => lines.push(line)),
        // A commit per small slice: many commits, so every fault gets its turn.
        commitIntervalMs: 0,
        sliceLimits: { records: 200, bytes: 4 * 1_048_576, ms: 500 },
        transactionScope: scope,
      })
      try {
        await waitForConsumed(kafka, `${app}-count`, input, 180_000)
      } finally {
        await running.stop()
      }
      expect(faults).toEqual([])
      const settled = lines.filter((l) => l.includes('the failed commit is settled'))
      expect(settled.some((l) => /committed=true/.test(l))).toBe(true)
      expect(settled.some((l) => /committed=false/.test(l))).toBe(true)
      const counts = await readCounts(kafka, output, unique('stuck-reader'), 20_000)
      expectExactCounts(counts, expected)
    })

    it('counts exactly once on a topic that refuses the runtime’s batches', {
      timeout: 240_000,
    }, async () => {
      const [input, output, app] = ['fatal-in', 'fatal-out', 'fatal-app'].map(unique) as [
        string,
        string,
        string,
      ]
      await withAdmin((admin) =>
        createTopicsAndWait(admin, [
          { topic: input, numPartitions: 2 },
          {
            topic: output,
            numPartitions: 2,
            configEntries: [{ name: 'max.message.bytes', value: TOPIC_LIMIT }],
          },
        ]),
      )
      const expected = await produceKeyed(kafka, input, 20_000, 200)
      const lines: string[] = []
      const running = await startTopology(countTopology(input, output), {
        kafka,
        appId: app,
        stateDir,
        log: createLogger('warn', (line) => lines.push(line)),
        transactionScope: scope,
      })
      try {
        await waitForConsumed(kafka, `${app}-count`, input, 180_000)
      } finally {
        await running.stop()
      }
      // The broker did refuse batches, and the tasks got past it with new producers.
      expect(lines.some((l) => /retrying with a new producer/.test(l))).toBe(true)
      const counts = await readCounts(kafka, output, unique('fatal-reader'), 20_000)
      expectExactCounts(counts, expected)
    })
  },
)
