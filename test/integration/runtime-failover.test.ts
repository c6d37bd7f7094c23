// Two instances share a topology; one stops; the other takes over its partitions, restores
// their stores from the changelog, and the results stay exact. Also with transactions that
// span 100 ms, whose consumers fetch ahead of their tasks: the rebalance stops batches part
// way, and what was read past them is read again (fetch-ahead.ts).

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import {
  committedSum,
  produceKeyed,
  readCounts,
  spawnCountApp,
  waitForConsumed,
} from './runtime-support.js'

const TOTAL = 40_000
const KEYS = 200

describe.each([
  { scope: 'task', commitIntervalMs: undefined },
  { scope: 'thread', commitIntervalMs: undefined },
  { scope: 'thread', commitIntervalMs: 100 },
] as const)(
  'runtime: failover between two instances, transactions per $scope, commit interval $commitIntervalMs',
  ({ scope, commitIntervalMs }) => {
    const kafka = testKafka()
    const input = unique('fo-in')
    const output = unique('fo-out')
    const app = unique('fo-app')
    let stateA: string
    let stateB: string

    beforeAll(async () => {
      stateA = await mkdtemp(join(tmpdir(), 'imflow-fo-a-'))
      stateB = await mkdtemp(join(tmpdir(), 'imflow-fo-b-'))
      await withAdmin((admin) =>
        createTopicsAndWait(admin, [
          { topic: input, numPartitions: 4 },
          { topic: output, numPartitions: 4 },
        ]),
      )
    })
    afterAll(async () => {
      await Promise.all([stateA, stateB].map((d) => rm(d, { recursive: true, force: true })))
    })

    it('moves the stopped instance’s tasks and their state to the other', {
      timeout: 300_000,
    }, async () => {
      const a = spawnCountApp({ app, input, output, scope, commitIntervalMs, stateDir: stateA })
      const b = spawnCountApp({ app, input, output, scope, commitIntervalMs, stateDir: stateB })
      try {
        // Both must own partitions before any input arrives.
        await eventually(
          () =>
            /assignment .*partitions=\[\d/.test(a.output()) &&
            /assignment .*partitions=\[\d/.test(b.output())
              ? true
              : undefined,
          { timeoutMs: 60_000, what: 'both instances to hold partitions' },
        )
        // Flowing while A stops: B's batches in flight are cut short by the rebalance.
        let produced = false
        const producing = produceKeyed(kafka, input, TOTAL, KEYS, { chunk: 500, pauseMs: 100 })
        void producing.then(() => {
          produced = true
        })
        await eventually(
          async () =>
            (await committedSum(kafka, `${app}-count`, input)) > TOTAL / 4 ? true : undefined,
          {
            timeoutMs: 120_000,
            what: 'a quarter of the input processed',
          },
        )
        expect(produced).toBe(false)
        a.child.kill('SIGTERM')
        expect(await a.exited).toBe(0)
        const expected = await producing
        await waitForConsumed(kafka, `${app}-count`, input, 240_000)

        // B now owns all four partitions and restored A's stores from their changelogs.
        expect(b.output()).toMatch(/assignment topology=count partitions=\[0,1,2,3\]/)
        expect(b.output()).toMatch(/store restored .*records=[1-9]/)

        const counts = await readCounts(kafka, output, unique('fo-reader'), TOTAL)
        const wrong = [...expected].filter(([key, n]) => {
          const seen = counts.get(key) ?? []
          return !(seen.length === n && seen.every((v, i) => v === i + 1))
        })
        expect(wrong.slice(0, 5)).toEqual([])
      } finally {
        a.child.kill('SIGKILL')
        b.child.kill('SIGTERM')
        await b.exited
      }
    })
  },
)
