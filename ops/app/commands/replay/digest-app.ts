// The digest of every store partition of an app id: each changelog read read_committed to
// the end it has now, folded into StoreDigest. Restore markers (a task's own bookkeeping,
// different in every run) are left out; only the store's data keys count.

import type { Admin, Kafka } from 'kafkajs'
import { DATA } from '../../../../topologies/runtime/changelog.js'
import { type StoreLog, storeLogs } from './app-logs.js'
import { partitionEnds, readToEnd } from './read-to-end.js'
import { type Digest, StoreDigest } from './store-digest.js'

export interface StoreDigestRow extends Digest {
  readonly topology: string
  readonly store: string
  readonly partition: number
}

export function digestApp(
  kafka: Kafka,
  admin: Admin,
  runtimeId: string,
  topologies: readonly string[],
  options: { idleTimeoutMs?: number } = {},
): Promise<StoreDigestRow[]> {
  return admin
    .listTopics()
    .then((topics) => digestLogs(kafka, admin, storeLogs(topics, runtimeId, topologies), options))
}

/** The digest of each partition of these store changelogs (any topology's, named or not). */
export async function digestLogs(
  kafka: Kafka,
  admin: Admin,
  logs: readonly StoreLog[],
  options: { idleTimeoutMs?: number } = {},
): Promise<StoreDigestRow[]> {
  const ends = await partitionEnds(
    admin,
    logs.map((l) => l.topic),
  )
  const digests = new Map(ends.map((e) => [`${e.topic}/${e.partition}`, new StoreDigest()]))
  await readToEnd(
    kafka,
    ends,
    (topic, partition, key, value) => {
      if (!key || key.length === 0 || key[0] !== DATA) return
      digests.get(`${topic}/${partition}`)?.apply(key.subarray(1), value)
    },
    options,
  )
  const byTopic = new Map(logs.map((l) => [l.topic, l]))
  return ends
    .map((e) => {
      const log = byTopic.get(e.topic) as (typeof logs)[number]
      const digest = (digests.get(`${e.topic}/${e.partition}`) as StoreDigest).result()
      return { topology: log.topology, store: log.store, partition: e.partition, ...digest }
    })
    .sort(
      (a, b) =>
        a.topology.localeCompare(b.topology) ||
        a.store.localeCompare(b.store) ||
        a.partition - b.partition,
    )
}

/** The rows as an aligned table, one line per store partition. */
export function digestTable(rows: readonly StoreDigestRow[]): string {
  const head = ['topology', 'store', 'partition', 'keys', 'digest']
  const cells = rows.map((r) => [
    r.topology,
    r.store,
    String(r.partition),
    String(r.keys),
    r.digest,
  ])
  const widths = head.map((h, i) =>
    Math.max(h.length, ...cells.map((c) => (c[i] as string).length)),
  )
  const line = (c: string[]) =>
    c
      .map((v, i) =>
        i === 2 || i === 3 ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number),
      )
      .join('  ')
      .trimEnd()
  return [line(head), ...cells.map(line)].join('\n')
}
