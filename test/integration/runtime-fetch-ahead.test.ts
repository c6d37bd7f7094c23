// Fetching ahead (fetch-ahead.ts) when the group moves. With 100 ms commits the consumer
// fetches a partition on while its task works, so a task holds batches it has not begun. Here
// each record takes ~2 ms, so both instances hold work when one of them stops: the other's
// rebalance cuts its batches short, and they, and the batches fetched past them, must be read
// again from the task's position. Every key's counts must come out exactly 1..n, and the log
// must show those rewinds (else the test did not test them).

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import {
  committedSum,
  expectExactCounts,
  produceKeyed,
  readCounts,
  spawnCountApp,
  waitForConsumed,
} from './runtime-support.js'

const TOTAL = 12_000
const KEYS = 100

describe('runtime: fetching ahead across a rebalance', () => {
  const kafka = testKafka()
  const input = unique('fa-in')
  const output = unique('fa-out')
  const app = unique('fa-app')
  let stateA: string
  let stateB: string

  beforeAll(async () => {
    stateA = await mkdtemp(join(tmpdir(), 'imflow-fa-a-'))
    stateB = await mkdtemp(join(tmpdir(), 'imflow-fa-b-'))
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

  it('reads again what a cut batch and the batches fetched past it left', {
    timeout: 300_000,
  }, async () => {
    const options = {
      app,
      input,
      output,
      scope: 'thread',
      commitIntervalMs: 100,
      recordDelayMs: 2,
      logLevel: 'debug',
    } as const
    const a = spawnCountApp({ ...options, stateDir: stateA })
    const b = spawnCountApp({ ...options, stateDir: stateB })
    try {
      await eventually(
        () =>
          /assignment .*partitions=\[\d/.test(a.output()) &&
          /assignment .*partitions=\[\d/.test(b.output())
            ? true
            : undefined,
        { timeoutMs: 60_000, what: 'both instances to hold partitions' },
      )
      const expected = await produceKeyed(kafka, input, TOTAL, KEYS)
      await eventually(
        async () =>
          (await committedSum(kafka, `${app}-count`, input)) > TOTAL / 10 ? true : undefined,
        { timeoutMs: 120_000, what: 'a tenth of the input processed' },
      )
      // Both hold batches fetched ahead of their tasks: B's are cut by the rebalance.
      expect(await committedSum(kafka, `${app}-count`, input)).toBeLessThan(TOTAL / 2)
      a.child.kill('SIGTERM')
      expect(await a.exited).toBe(0)
      await waitForConsumed(kafka, `${app}-count`, input, 240_000)

      expect(b.output()).toMatch(/assignment topology=count partitions=\[0,1,2,3\]/)
      expect(b.output()).toMatch(/partition read again from its task position/)
      const counts = await readCounts(kafka, output, unique('fa-reader'), TOTAL)
      expectExactCounts(counts, expected)
    } finally {
      a.child.kill('SIGKILL')
      b.child.kill('SIGTERM')
      await b.exited
    }
  })
})
