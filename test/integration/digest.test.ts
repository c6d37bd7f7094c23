// `imflow digest` over real changelogs on the shared broker: committed writes count (the
// latest per key, tombstones remove), aborted transactions and restore markers do not, and a
// log that ends in a transaction marker is still read to its end.

import { describe, expect, it } from 'vitest'
import { digestApp } from '../../ops/app/commands/replay/digest-app.js'
import { StoreDigest } from '../../ops/app/commands/replay/store-digest.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { dataKey, newMarker } from '../../topologies/runtime/changelog.js'
import { eventually, testKafka, transactionalProducer, unique, withAdmin } from './helpers.js'

describe('imflow digest', () => {
  it("digests each store partition's committed state and nothing else", async () => {
    const app = unique('dig')
    const kafka = testKafka()
    const dedupe = `${app}-receiver-dedupe-changelog`
    const log = `${app}-sync-sync-log-changelog`
    // kafkajs' own wait for leaders gives up on a topic its broker does not know yet.
    await withAdmin((admin) =>
      createTopicsAndWait(
        admin,
        [dedupe, log].map((topic) => ({ topic, numPartitions: 2 })),
      ),
    )
    const producer = transactionalProducer(kafka, `${app}-tx`)
    await producer.connect()
    const write = async (
      topic: string,
      partition: number,
      entries: [string, string | null][],
      abort = false,
    ) => {
      const tx = await producer.transaction()
      await tx.send({
        topic,
        messages: entries.map(([k, v]) => ({
          partition,
          key: dataKey(Buffer.from(k)),
          value: v === null ? null : Buffer.from(v),
        })),
      })
      await (abort ? tx.abort() : tx.commit())
    }
    await write(dedupe, 0, [
      ['a', '1'],
      ['b', '2'],
    ])
    await write(dedupe, 0, [['a', 'aborted']], true)
    await write(dedupe, 0, [
      ['b', null],
      ['c', '3'],
    ])
    await write(dedupe, 1, [['x', '9']])
    await write(log, 1, [
      ['y', '8'],
      ['y', '7'],
    ])
    await producer.disconnect()
    // A restore marker, written outside a transaction as a task's producer would not: still skipped.
    const plain = kafka.producer()
    await plain.connect()
    await plain.send({ topic: dedupe, messages: [{ partition: 0, key: newMarker(), value: null }] })
    await plain.disconnect()
    // The coordinator writes a transaction's markers after it answered the commit: the digest
    // reads to the end as it is when it starts (read committed), so wait for the last one.
    await eventually(
      () =>
        withAdmin(async (admin) =>
          Number((await admin.fetchTopicOffsets(log)).find((p) => p.partition === 1)?.high) === 3
            ? true
            : undefined,
        ),
      { what: 'the last transaction’s marker', timeoutMs: 30_000 },
    )

    const expected = (entries: [string, string | null][]) => {
      const d = new StoreDigest()
      for (const [k, v] of entries) d.apply(Buffer.from(k), v === null ? null : Buffer.from(v))
      return d.result()
    }
    const rows = await withAdmin((admin) =>
      digestApp(kafka, admin, app, ['receiver', 'sync'], { idleTimeoutMs: 20_000 }),
    )
    expect(rows).toEqual([
      {
        topology: 'receiver',
        store: 'dedupe',
        partition: 0,
        ...expected([
          ['a', '1'],
          ['c', '3'],
        ]),
      },
      { topology: 'receiver', store: 'dedupe', partition: 1, ...expected([['x', '9']]) },
      { topology: 'sync', store: 'sync-log', partition: 0, keys: 0, digest: '0000000000000000' },
      { topology: 'sync', store: 'sync-log', partition: 1, ...expected([['y', '7']]) },
    ])
    expect(rows[0]?.keys).toBe(2)
    // Only the topologies asked for.
    const receiverOnly = await withAdmin((admin) => digestApp(kafka, admin, app, ['receiver']))
    expect(receiverOnly.map((r) => r.store)).toEqual(['dedupe', 'dedupe'])
  }, 90_000)
})
