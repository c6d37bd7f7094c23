// Exactly-once under crashes: a counting topology (RocksDB store, changelog, transactions)
// processes 100,000 records while its process is SIGKILLed at random points five times and
// restarted. Every key's emitted counts must be exactly 1, 2, ..., n: a lost record would
// leave a gap or a short count, a record processed twice a repeated number.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { testKafka, unique, withAdmin } from './helpers.js'
import {
  committedPastKillPoint,
  committedSum,
  countToEnd,
  produceKeyed,
  readCounts,
  spawnCountApp,
} from './runtime-support.js'

const TOTAL = 100_000
const KEYS = 500
const KILLS = 5

// Both transaction scopes: a producer per task, and one per runner fenced by the group
// generation (IMFLOW_TRANSACTION_SCOPE=thread).
describe.each(['task', 'thread'] as const)(
  'runtime: exactly-once across SIGKILLs, transactions per %s',
  (scope) => {
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
      const expected = await produceKeyed(kafka, input, TOTAL, KEYS)
      // Kills land between checkpoints: each run restores from the last one and the log after it.
      // A commit per slice, as imflow's topologies run: with 100 ms commits the count was
      // through all of it before the fifth kill in a CI run.
      const options = {
        app,
        input,
        output,
        stateDir,
        scope,
        checkpointIntervalMs: 100,
        commitIntervalMs: 0,
      }
      const logs: string[] = []
      let progress = 0
      for (let kill = 0; kill < KILLS; kill++) {
        const running = spawnCountApp(options)
        progress = await committedPastKillPoint(kafka, `${app}-count`, input, {
          kill,
          kills: KILLS,
          total: TOTAL,
          before: progress,
        })
        running.child.kill('SIGKILL')
        await running.exited
        const atKill = await committedSum(kafka, `${app}-count`, input)
        expect(atKill, `kill ${kill + 1} came after the input was done`).toBeLessThan(TOTAL)
        logs.push(running.output())
      }
      const last = await countToEnd(kafka, options, 300_000)
      const counts = await readCounts(kafka, output, unique('eos-reader'), TOTAL)
      const problems: string[] = []
      for (const [key, n] of expected) {
        const seen = counts.get(key) ?? []
        const exact = seen.length === n && seen.every((v, i) => v === i + 1)
        if (!exact)
          problems.push(
            `${key}: expected 1..${n}, got ${seen.length} values ending ${seen.slice(-3).join(',')}`,
          )
      }
      expect(problems.slice(0, 10)).toEqual([])
      expect(counts.size).toBe(KEYS)
      // The kills interrupted work in progress: runs restored state from the changelog.
      expect(progress).toBeLessThan(TOTAL)
      expect([...logs, last.output()].join('\n')).toMatch(/store restored .*records=[1-9]/)
    })
  },
)
