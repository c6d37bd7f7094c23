// kafkajs transaction pitfalls, on the real broker, through the runtime's producer: many
// back-to-back transactions, each with sends and an offset commit, must all succeed —
// kafkajs alone fails some with CONCURRENT_TRANSACTIONS on sendOffsets (#430) or
// AddPartitionsToTxn (#1315) right after a commit; and a second producer with the same
// transactional id fences the first (zombie fencing, one id per task).

import { describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { createTaskProducer, isFenced } from '../../topologies/runtime/internal/kafka-io.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'

describe('runtime: transactions', () => {
  const kafka = testKafka()

  it('commits 150 back-to-back transactions with offsets, none lost', {
    timeout: 120_000,
  }, async () => {
    const topic = unique('txn')
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic, numPartitions: 2 }]))
    const producer = await createTaskProducer(kafka, unique('txn-id'))
    const group = unique('txn-group')
    for (let i = 0; i < 150; i++) {
      const txn = await producer.begin()
      await txn.send([
        { topic, partition: 0, key: null, value: Buffer.from(`a${i}`) },
        { topic, partition: 1, key: null, value: Buffer.from(`b${i}`) },
      ])
      await txn.sendOffsets(group, 0, [{ topic, nextOffset: i + 1 }])
      await txn.commit()
    }
    await producer.disconnect()
    const [committed] = await withAdmin((admin) =>
      admin.fetchOffsets({ groupId: group, topics: [topic] }),
    )
    expect(committed?.partitions.find((p) => p.partition === 0)?.offset).toBe('150')

    let seen = 0
    const consumer = kafka.consumer({ groupId: unique('txn-reader'), readUncommitted: false })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async () => {
        seen++
      },
    })
    try {
      await eventually(() => (seen >= 300 ? true : undefined), { what: '300 committed records' })
      await new Promise((r) => setTimeout(r, 500))
      expect(seen).toBe(300)
    } finally {
      await consumer.disconnect()
    }
  })

  it('fences a zombie: the older producer of a task cannot commit after a newer one started', async () => {
    const topic = unique('fence')
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]))
    const id = unique('fence-id')
    const zombie = await createTaskProducer(kafka, id)
    const open = await zombie.begin()
    await open.send([{ topic, partition: 0, key: null, value: Buffer.from('from the zombie') }])

    const successor = await createTaskProducer(kafka, id)
    const txn = await successor.begin()
    await txn.send([{ topic, partition: 0, key: null, value: Buffer.from('from the successor') }])
    await txn.commit()

    const err = await open.commit().catch((e) => e)
    expect(err).toBeInstanceOf(Error)
    expect(isFenced(err)).toBe(true)
    await Promise.all([zombie.disconnect(), successor.disconnect()])
  })

  // What a commit that failed without an answer relies on (commit-outcome.ts): the new client
  // settles the old transaction before the committed offset is read. kafkajs' connect() alone
  // registers no transactional id: the zombie's offsets would still commit afterwards.
  it('a new client settles its predecessor at once: the open transaction aborted, the old client fenced', async () => {
    const topic = unique('settle')
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]))
    const id = unique('settle-id')
    const group = unique('settle-group')
    const zombie = await createTaskProducer(kafka, id)
    const open = await zombie.begin()
    await open.send([{ topic, partition: 0, key: null, value: Buffer.from('from the zombie') }])
    await open.sendOffsets(group, 0, [{ topic, nextOffset: 1 }])

    const successor = await createTaskProducer(kafka, id)
    await successor.ready()
    const err = await open.commit().catch((e) => e)
    expect(err, 'the zombie committed after its successor started').toBeInstanceOf(Error)
    expect(isFenced(err)).toBe(true)
    const [committed] = await withAdmin((admin) =>
      admin.fetchOffsets({ groupId: group, topics: [topic] }),
    )
    expect(committed?.partitions[0]?.offset).toBe('-1')
    await Promise.all([zombie.disconnect(), successor.disconnect()])
  })

  it('never comes back once disconnected: a closed task cannot fence the next one', async () => {
    const topic = unique('closed')
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]))
    const id = unique('closed-id')
    const closed = await createTaskProducer(kafka, id)
    await closed.disconnect()
    const next = await createTaskProducer(kafka, id)
    // A begin() on the closed one would make a client with the id, and fence `next`.
    await expect(closed.begin()).rejects.toMatchObject({ code: 'IMF_ERR_INTERNAL' })
    const txn = await next.begin()
    await txn.send([{ topic, partition: 0, key: null, value: Buffer.from('from the next task') }])
    await expect(txn.commit()).resolves.toBeUndefined()
    await next.disconnect()
  })
})
