// Which of a task's stores must be rebuilt by a shadow run of the task (store-rebuild.ts):
// a store with no backfill declared whose changelog partition has never held a committed
// record (not even a restore marker: no task was ever open with it), in a task that ran
// before (another store's partition has one, or the checkpoint names it). Decided before the
// task's restore markers are written, and the decision ("rebuild, not done") committed in
// the same transaction as the markers: a crash at any later point finds it again and redoes
// the rebuild, and no open can take the store's first marker for a sign that it ran.
//
// Markers are what tell a store that ran but is empty in this partition (each open wrote
// one) from a store that is new. A new app id, a replay --into one, and a stateless
// topology's first store have no store that ran: their stores are built live.

import type { Admin } from 'kafkajs'
import { retry } from '../../../ops/retry.js'
import { BACKFILL_KEY, changelogTopic } from '../changelog.js'
import type { TopologyDefinition } from '../topology.js'
import { type BackfillProgress, encodeProgress } from './backfill-plan.js'
import type { OutRecord } from './kafka-io.js'

/** A progress record's `topic` when the store is rebuilt by a shadow run, not folded from a topic. */
export const REBUILD_SOURCE = '(shadow run)'

export function rebuildProgress(done: boolean): BackfillProgress {
  return { topic: REBUILD_SOURCE, next: 0, target: 0, done }
}

export function isRebuild(progress: BackfillProgress | undefined): boolean {
  return progress?.topic === REBUILD_SOURCE
}

/** What the task knows of one store's changelog partition before it opens. */
export interface ChangelogSeen {
  readonly store: string
  /** Declared with a fold backfill (backfill.ts builds it instead). */
  readonly declared: boolean
  /** Named in the task's checkpoint: it ran here. */
  readonly fromCheckpoint: boolean
  /** Has at least one committed record (a write, a marker, a progress record). */
  readonly committed: boolean
}

/** The stores to rebuild: never opened, beside a store that was. */
export function storesToRebuild(seen: readonly ChangelogSeen[]): string[] {
  const ran = seen.some((s) => s.fromCheckpoint || s.committed)
  if (!ran) return []
  return seen.filter((s) => !s.declared && !s.fromCheckpoint && !s.committed).map((s) => s.store)
}

export interface RebuildProbe {
  readonly appId: string
  readonly topology: TopologyDefinition
  readonly partition: number
  /** Whether a changelog partition holds a committed record, below `high`. */
  hasCommitted(topic: string, partition: number, high: number): Promise<boolean>
}

/**
 * The rebuild marks to commit with the task's restore markers: a progress record "not done"
 * for each store to rebuild. Asks Kafka only when a store without a backfill is missing from
 * the checkpoint (a clean restart of a task that had all its stores asks nothing).
 */
export async function rebuildMarks(
  probe: RebuildProbe,
  admin: () => Promise<Admin>,
  checkpoint: Readonly<Record<string, number>>,
): Promise<{ stores: string[]; records: OutRecord[] }> {
  const { appId, topology, partition } = probe
  const stores = (topology.stores ?? []).map((store) => {
    const topic = changelogTopic(appId, topology.name, store)
    return {
      store,
      topic,
      declared: topology.backfill?.[store] !== undefined,
      fromCheckpoint: checkpoint[topic] !== undefined,
    }
  })
  if (!stores.some((s) => !s.declared && !s.fromCheckpoint)) return { stores: [], records: [] }
  const client = await admin()
  let seen: ChangelogSeen[]
  try {
    // Each store's look at once: a task's open waits on them.
    seen = await Promise.all(
      stores.map(async (s) => {
        if (s.fromCheckpoint) return { ...s, committed: true }
        const offsets = await retry(() => client.fetchTopicOffsets(s.topic))
        const high = Number(offsets.find((o) => o.partition === partition)?.high ?? 0)
        return { ...s, committed: high > 0 && (await probe.hasCommitted(s.topic, partition, high)) }
      }),
    )
  } finally {
    await client.disconnect()
  }
  const rebuilt = storesToRebuild(seen)
  const records = rebuilt.map((store) => ({
    topic: changelogTopic(appId, topology.name, store),
    partition,
    key: BACKFILL_KEY,
    value: encodeProgress(rebuildProgress(false)),
  }))
  return { stores: rebuilt, records }
}
