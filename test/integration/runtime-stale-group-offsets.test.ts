// A group that answers an older commit of a task's own — Kafka 4.1's group coordinator did,
// after a broker restart, for half an hour of commits (docs/reliability.md) — does not make
// the task process those records again: it goes on from the position its changelog holds.
// A rewind someone meant (replay, an admin's reset) carries other metadata and is followed.

import type { Kafka } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { setGroupOffsets } from '../../ops/group-offsets.js'
import { TASK_COMMIT_METADATA } from '../../topologies/runtime/internal/start-position.js'
import { testKafka, transactionalProducer, unique, withAdmin } from './helpers.js'
import {
  countToEnd,
  expectExactCounts,
  produceKeyed,
  readCounts,
  scratchState,
  spawnCountApp,
  testScope,
  waitForConsumed,
} from './runtime-support.js'

const KEYS = 50

/** Commits `offset` on each partition in a transaction, as a task's commit says it is one. */
async function commitAsTask(kafka: Kafka, groupId: string, topic: string, offset: number) {
  const producer = transactionalProducer(kafka, 'older-commit')
  await producer.connect()
  try {
    const partitions = [0, 1].map((partition) => ({
      partition,
      offset: String(offset),
      metadata: TASK_COMMIT_METADATA,
    }))
    const txn = await producer.transaction()
    await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions }] })
    await txn.commit()
  } finally {
    await producer.disconnect()
  }
}

function sum(...runs: Map<string, number>[]): Map<string, number> {
  const total = new Map<string, number>()
  for (const run of runs) for (const [k, n] of run) total.set(k, (total.get(k) ?? 0) + n)
  return total
}

describe('runtime: a group answering an older commit', () => {
  const kafka = testKafka()
  const input = unique('stale-in')
  const output = unique('stale-out')
  const app = unique('stale-app')
  const state = scratchState('stale', { [input]: 2, [output]: 2 })
  const groupId = `${app}-count`

  it("goes on from the task's own position, and follows a rewind someone meant", {
    timeout: 240_000,
  }, async () => {
    const options = { app, input, output, stateDir: state.dir, scope: testScope() }
    const first = await produceKeyed(kafka, input, 2_000, KEYS)
    await countToEnd(kafka, options, 120_000)

    await commitAsTask(kafka, groupId, input, 100)
    const second = await produceKeyed(kafka, input, 1_000, KEYS)
    const resumed = await countToEnd(kafka, options, 120_000)
    // Counted once each: with the group's answer followed, records 100.. of each partition
    // would count again.
    expectExactCounts(
      await readCounts(kafka, output, unique('stale-reader'), 3_000),
      sum(first, second),
    )
    expect(resumed.output()).toMatch(/answered an older commit than the task's own/)

    // A reset by an admin (no task metadata): every record from offset 100 on counts again.
    await withAdmin((admin) =>
      setGroupOffsets(kafka, admin, groupId, [
        { topic: input, partitions: [0, 1].map((partition) => ({ partition, offset: '100' })) },
      ]),
    )
    const rewound = await countToEnd(kafka, options, 120_000)
    expect(rewound.output()).not.toMatch(/answered an older commit/)
    const again = 3_000 - 2 * 100
    const counts = await readCounts(kafka, output, unique('rewind-reader'), 3_000 + again)
    let total = 0
    for (const [key, list] of counts) {
      // Each key's counts go on from its store: 1..n, never back.
      expect(list, key).toEqual(Array.from({ length: list.length }, (_, i) => i + 1))
      total += list.length
    }
    expect(total).toBe(3_000 + again)
  })
})

describe('runtime: a group answering a commit many fetches older', () => {
  const kafka = testKafka()
  const input = unique('stale-far-in')
  const output = unique('stale-far-out')
  const app = unique('stale-far-app')
  const state = scratchState('stale-far', { [input]: 2, [output]: 2 })
  const groupId = `${app}-count`

  it('commits its own position again at once, and reads on past the records it has', {
    timeout: 240_000,
  }, async () => {
    const options = { app, input, output, stateDir: state.dir, scope: testScope() }
    // ~20,000 records a partition: far more than one fetch (256 KiB a partition) holds.
    const first = await produceKeyed(kafka, input, 40_000, KEYS)
    await countToEnd(kafka, options, 120_000)

    await commitAsTask(kafka, groupId, input, 100)
    const running = spawnCountApp(options)
    try {
      // No new record: the task's own position goes back to the group by itself.
      await waitForConsumed(kafka, groupId, input, 60_000)
      // And records after it are read, past every fetch of records the task has counted.
      const second = await produceKeyed(kafka, input, 1_000, KEYS)
      await waitForConsumed(kafka, groupId, input, 60_000)
      running.child.kill('SIGTERM')
      expect(await running.exited).toBe(0)
      expect(running.output()).toMatch(/answered an older commit than the task's own/)
      expectExactCounts(
        await readCounts(kafka, output, unique('stale-far-reader'), 41_000),
        sum(first, second),
      )
    } finally {
      if (running.child.exitCode === null) running.child.kill('SIGKILL')
    }
  })
})
