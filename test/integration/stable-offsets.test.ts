// A group's committed offsets read with require_stable (KIP-447, ops/kafkajs-stable-offsets.ts)
// on the real broker: with no transaction open, the same as kafkajs' admin.fetchOffsets();
// while a transaction that sent offsets for the group is open, no answer (kafkajs' plain
// fetch answers the offset from before it), then the transaction's offset right after it
// commits, or the one from before it after it aborts; a partition asked for alone is not held
// up by another's transaction; past the wait bound, a typed error.

import type { Admin, Kafka, Producer, Transaction } from 'kafkajs'
import { afterEach, describe, expect, it } from 'vitest'
import { isImflowError } from '../../ops/errors.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { type CommittedOffsets, fetchStableOffsets } from '../../ops/kafkajs-stable-offsets.js'
import { testKafka, transactionalProducer, unique, withAdmin } from './helpers.js'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close().catch(() => {})
})

async function connected(kafka: Kafka): Promise<{ admin: Admin; producer: Producer }> {
  const admin = kafka.admin()
  await admin.connect()
  cleanup.push(() => admin.disconnect())
  const producer = transactionalProducer(kafka, 'stable-offsets')
  await producer.connect()
  cleanup.push(() => producer.disconnect())
  return { admin, producer }
}

async function setUp() {
  const topic = unique('stable-in')
  await withAdmin((admin) => createTopicsAndWait(admin, [{ topic, numPartitions: 2 }]))
  const kafka = testKafka()
  return { topic, groupId: unique('stable-group'), ...(await connected(kafka)) }
}

/** A transaction that has sent offsets for the group and is left open. */
async function openWithOffsets(
  producer: Producer,
  groupId: string,
  topic: string,
  offsets: [number, string][],
): Promise<Transaction> {
  const txn = await producer.transaction()
  // Right after a commit the coordinator is still finishing it and answers
  // CONCURRENT_TRANSACTIONS for a few milliseconds (the runtime retries the same way).
  for (let attempt = 1; ; attempt++) {
    try {
      await txn.sendOffsets({
        consumerGroupId: groupId,
        topics: [
          { topic, partitions: offsets.map(([partition, offset]) => ({ partition, offset })) },
        ],
      })
      return txn
    } catch (err) {
      if (attempt >= 20 || !/concurrent/i.test(String(err))) throw err
      await sleep(50)
    }
  }
}

const byPartition = (offsets: CommittedOffsets) =>
  Object.fromEntries((offsets[0]?.partitions ?? []).map((p) => [p.partition, p.offset]))

/** Settles a promise into a flag the test can look at while it is pending. */
function watch<T>(promise: Promise<T>) {
  const state = { settled: false, at: 0 }
  const done = promise.finally(() => {
    state.settled = true
    state.at = Date.now()
  })
  done.catch(() => {})
  return { state, done }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('committed offsets read only once no transaction holds them open (require_stable)', () => {
  it('answers what kafkajs’ admin.fetchOffsets answers when no transaction is open', {
    timeout: 60_000,
  }, async () => {
    const { topic, groupId, admin, producer } = await setUp()
    const none = await fetchStableOffsets(admin, { groupId, topics: [topic] })
    expect(none).toEqual(await admin.fetchOffsets({ groupId, topics: [topic] }))
    expect(byPartition(none)).toEqual({ 0: '-1', 1: '-1' })

    const txn = await openWithOffsets(producer, groupId, topic, [
      [0, '3'],
      [1, '12'],
    ])
    await txn.commit()
    const committed = await fetchStableOffsets(admin, { groupId, topics: [topic] })
    expect(committed).toEqual(await admin.fetchOffsets({ groupId, topics: [topic] }))
    expect(byPartition(committed)).toEqual({ 0: '3', 1: '12' })
    // The call's mark is gone with it: an enabled AsyncLocalStorage would make Node hook every
    // promise of the process from then on (async ids on each).
    await sleep(0)
    expect(Object.getOwnPropertySymbols(new Promise(() => {})).map(String)).toEqual([])
  })

  it('waits for an open transaction’s offsets and answers them right after it commits', {
    timeout: 60_000,
  }, async () => {
    const { topic, groupId, admin, producer } = await setUp()
    await (await openWithOffsets(producer, groupId, topic, [[0, '3']])).commit()

    const txn = await openWithOffsets(producer, groupId, topic, [[0, '8']])
    const stable = watch(fetchStableOffsets(admin, { groupId, topics: [topic] }))
    // kafkajs' plain fetch answers the offset from before the open transaction.
    expect(byPartition(await admin.fetchOffsets({ groupId, topics: [topic] }))).toEqual({
      0: '3',
      1: '-1',
    })
    await sleep(2_000)
    expect(stable.state.settled).toBe(false)

    await txn.commit()
    const committedAt = Date.now()
    expect(byPartition(await stable.done)).toEqual({ 0: '8', 1: '-1' })
    // Asked again at most every 500 ms: a bound with room for a loaded machine.
    expect(stable.state.at - committedAt).toBeLessThan(5_000)
  })

  it('answers the offset from before an open transaction once it aborts', {
    timeout: 60_000,
  }, async () => {
    const { topic, groupId, admin, producer } = await setUp()
    await (await openWithOffsets(producer, groupId, topic, [[1, '4']])).commit()

    const txn = await openWithOffsets(producer, groupId, topic, [[1, '9']])
    const stable = watch(fetchStableOffsets(admin, { groupId, topics: [topic] }))
    await sleep(2_000)
    expect(stable.state.settled).toBe(false)

    await txn.abort()
    expect(byPartition(await stable.done)).toEqual({ 0: '-1', 1: '4' })
  })

  it('waits only for the partitions asked for', { timeout: 60_000 }, async () => {
    const { topic, groupId, admin, producer } = await setUp()
    await (await openWithOffsets(producer, groupId, topic, [[0, '2']])).commit()
    const txn = await openWithOffsets(producer, groupId, topic, [[1, '6']])
    // Partition 0 has no open transaction: answered at once, partition 1 left out.
    const zero = await fetchStableOffsets(admin, {
      groupId,
      topics: [topic],
      partitions: [0],
      maxWaitMs: 1_000,
    })
    expect(zero).toEqual([{ topic, partitions: [{ partition: 0, offset: '2', metadata: null }] }])
    const both = watch(fetchStableOffsets(admin, { groupId, topics: [topic] }))
    await sleep(1_000)
    expect(both.state.settled).toBe(false)
    await txn.commit()
    expect(byPartition(await both.done)).toEqual({ 0: '2', 1: '6' })
  })

  it('gives up with IMF_ERR_OFFSETS_UNSTABLE when the transaction stays open too long', {
    timeout: 60_000,
  }, async () => {
    const { topic, groupId, admin, producer } = await setUp()
    const txn = await openWithOffsets(producer, groupId, topic, [[0, '5']])
    const startedAt = Date.now()
    const failure = await fetchStableOffsets(admin, {
      groupId,
      topics: [topic],
      maxWaitMs: 1_500,
    }).catch((err: unknown) => err)
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_500)
    expect(isImflowError(failure, 'IMF_ERR_OFFSETS_UNSTABLE')).toBe(true)
    expect(failure).toMatchObject({ retriable: true, details: { groupId, maxWaitMs: 1_500 } })
    await txn.abort()
  })
})
