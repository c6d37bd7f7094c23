// Exactly-once under crashes: a counting topology (RocksDB store, changelog, transactions)
// processes 105,000 records while its process is SIGKILLed at random points five times and
// restarted. Every key's emitted counts must be exactly 1, 2, ..., n: a lost record would
// leave a gap or a short count, a record processed twice a repeated number.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { testKafka, unique, withAdmin } from './helpers.js'
import {
  type CountAppOptions,
  committedPastKillPoint,
  committedSum,
  countToEnd,
  expectExactCounts,
  produceKeyed,
  readCounts,
  spawnCountApp,
} from './runtime-support.js'

const TOTAL = 105_000
const KEYS = 500
const KILLS = 5
/** The flowing input's sends: one more than the kills, and one ahead of each. */
const PORTIONS = KILLS + 2

type Input = 'ahead' | 'flowing'

// A commit per slice (0, as imflow's topologies run) in both transaction scopes: a producer
// per task, and one per runner fenced by the group generation. Then the runtime's default of
// 100 ms commits, fetching ahead: there a run is through the whole input in a second or two
// (a CI run's count was, before its fifth kill), so its input flows instead, in portions, one
// ahead of each kill: each kill lands in the middle of one, in a transaction that spans slices
// with batches fetched ahead, and the last portion comes after the last kill. Kills land
// between checkpoints (100 ms apart; 1 s with 100 ms commits, which checkpoint at each commit
// otherwise): each run restores from the last one and the changelog after it. The three run
// at once: a run spends most of its time waiting for the killed member's session to expire.
describe.concurrent.each<
  [scope: 'task' | 'thread', commitIntervalMs: number, Input, checkpointMs: number]
>([
  ['task', 0, 'ahead', 100],
  ['thread', 0, 'ahead', 100],
  ['thread', 100, 'flowing', 1_000],
])(
  'runtime: exactly-once across SIGKILLs, transactions per %s, commits every %i ms, input %s',
  (scope, commitIntervalMs, feed, checkpointIntervalMs) => {
    const kafka = testKafka()
    const input = unique('eos-in')
    const output = unique('eos-out')
    const app = unique('eos-app')
    let stateDir: string

    beforeAll(async () => {
      stateDir = await mkdtemp(join(tmpdir(), 'imflow-eos-'))
      await withAdmin((admin) =>
        createTopicsAndWait(admin, [
          { topic: input, numPartitions: 4 },
          { topic: output, numPartitions: 4 },
        ]),
      )
    })
    afterAll(async () => {
      await rm(stateDir, { recursive: true, force: true })
    })

    it(`counts ${TOTAL} records exactly while killed ${KILLS} times`, {
      timeout: 600_000,
    }, async () => {
      const expected = new Map<string, number>()
      const portion = TOTAL / PORTIONS
      let sent = 0
      const sendUpTo = async (records: number) => {
        for (; sent < records; sent += portion)
          for (const [key, n] of await produceKeyed(kafka, input, portion, KEYS))
            expected.set(key, (expected.get(key) ?? 0) + n)
      }
      if (feed === 'ahead') await sendUpTo(TOTAL)
      const options: CountAppOptions = {
        app,
        input,
        output,
        stateDir,
        scope,
        checkpointIntervalMs,
        commitIntervalMs,
      }
      const logs: string[] = []
      let progress = 0
      for (let kill = 0; kill < KILLS; kill++) {
        await sendUpTo((kill + 2) * portion)
        const running = spawnCountApp(options)
        progress = await committedPastKillPoint(kafka, `${app}-count`, input, {
          kill,
          // Flowing, each kill's point lies in the portion before the one sent last.
          kills: feed === 'ahead' ? KILLS : PORTIONS - 1,
          total: TOTAL,
          before: progress,
        })
        running.child.kill('SIGKILL')
        await running.exited
        const atKill = await committedSum(kafka, `${app}-count`, input)
        expect(atKill, `kill ${kill + 1} came after the input was done`).toBeLessThan(TOTAL)
        logs.push(running.output())
      }
      await sendUpTo(TOTAL)
      const last = await countToEnd(kafka, options, 300_000)
      await expectCountedExactly(kafka, output, expected)
      // The kills interrupted work in progress: runs restored state from the changelog.
      expect(progress).toBeLessThan(TOTAL)
      expect([...logs, last.output()].join('\n')).toMatch(/store restored .*records=[1-9]/)
    })
  },
)

async function expectCountedExactly(kafka: Kafka, output: string, expected: Map<string, number>) {
  const total = [...expected.values()].reduce((a, b) => a + b, 0)
  expect(total).toBe(TOTAL)
  const counts = await readCounts(kafka, output, unique('eos-reader'), TOTAL)
  expectExactCounts(counts, expected)
  expect(counts.size).toBe(KEYS)
}
