// A running task checkpoints its stores every few seconds: SIGKILLed mid-input, the next run
// restores what the changelogs took since the last checkpoint, not all they ever took, and
// still counts every record exactly once.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { topicEnds } from '../../bench/broker.js'
import { changelogTopic } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import {
  committedSum,
  countToEnd,
  expectExactCounts,
  produceKeyed,
  readCounts,
  scratchState,
  spawnCountApp,
  testScope,
} from './runtime-support.js'

const TOTAL = 40_000
const KEYS = 2_000

describe('runtime: checkpoints while running', () => {
  const kafka = testKafka()
  const input = unique('ckpt-in')
  const output = unique('ckpt-out')
  const app = unique('ckpt-app')
  const state = scratchState('ckpt', { [input]: 2, [output]: 2 })

  it('restores only what came after the last checkpoint once SIGKILLed', {
    timeout: 240_000,
  }, async () => {
    const expected = await produceKeyed(kafka, input, TOTAL, KEYS)
    const options = {
      app,
      input,
      output,
      stateDir: state.dir,
      scope: testScope(),
      checkpointIntervalMs: 200,
      // A commit per slice: with 100 ms commits the count can be through all of it before the kill.
      commitIntervalMs: 0,
    }
    const first = spawnCountApp(options)
    await eventually(
      async () => (await committedSum(kafka, `${app}-count`, input)) >= TOTAL / 2 || undefined,
      { timeoutMs: 120_000, intervalMs: 100, what: 'half the input to be committed' },
    )
    first.child.kill('SIGKILL')
    await first.exited
    expect(await committedSum(kafka, `${app}-count`, input)).toBeLessThan(TOTAL)
    const changelog = changelogTopic(app, 'count', 'counts')
    // Each partition's checkpoint, written while running: not a clean close's, and past the
    // one written as the task opened (its changelog's end then: after the restore marker, 1).
    const checkpointed = ['0', '1'].map((partition) => {
      const path = join(state.dir, app, 'count', partition, 'checkpoint.json')
      const file = JSON.parse(readFileSync(path, 'utf8'))
      expect(file.closed).toBe(false)
      return Number(file.offsets[changelog])
    })
    for (const offset of checkpointed) expect(offset).toBeGreaterThan(100)
    const written = await withAdmin((admin) => topicEnds(admin, changelog))

    const second = await countToEnd(kafka, options, 180_000)
    const restored = [...second.output().matchAll(/store restored .*?records=(\d+)/g)].map((m) =>
      Number(m[1]),
    )
    expect(restored).toHaveLength(2)
    const sum = restored.reduce((a, b) => a + b, 0)
    // From the checkpoints on, never from the start: the records before them are not read
    // again (the log's offsets also count transaction markers, so restored records are fewer).
    const checkpointedSum = checkpointed.reduce((a, b) => a + b, 0)
    expect(sum).toBeLessThanOrEqual(written - checkpointedSum)
    expectExactCounts(await readCounts(kafka, output, unique('ckpt-reader'), TOTAL), expected)
  })
})

describe('runtime: a checkpoint past its changelog’s end', () => {
  const kafka = testKafka()
  const input = unique('ckpt-gone-in')
  const output = unique('ckpt-gone-out')
  const app = unique('ckpt-gone-app')
  const state = scratchState('ckpt-gone', { [input]: 2, [output]: 2 })

  it('restores in full from a changelog deleted and created again, keeping none of the old state', {
    timeout: 180_000,
  }, async () => {
    const options = { app, input, output, stateDir: state.dir, scope: testScope() }
    const before = await produceKeyed(kafka, input, 2_000, 100)
    await countToEnd(kafka, options, 120_000)
    // The clean close left checkpoints naming offsets of the changelog deleted now.
    const changelog = changelogTopic(app, 'count', 'counts')
    await withAdmin(async (admin) => {
      await admin.deleteTopics({ topics: [changelog] })
      await eventually(async () => !(await admin.listTopics()).includes(changelog) || undefined, {
        timeoutMs: 30_000,
        what: 'the changelog to be deleted',
      })
    })
    const after = await produceKeyed(kafka, input, 1_000, 100)

    const second = await countToEnd(kafka, options, 120_000)
    // The log holds no count now: each key counts its new records from 1 (with the old
    // checkpoint trusted, the old counts went on, or the restore never found its marker).
    const counts = await readCounts(kafka, output, unique('ckpt-gone-reader'), 3_000)
    const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1)
    for (const [key, n] of after)
      expect(counts.get(key), key).toEqual([...oneTo(before.get(key) ?? 0), ...oneTo(n)])
    expect(second.output()).toMatch(/checkpoint past its changelog’s end/)
  })
})
