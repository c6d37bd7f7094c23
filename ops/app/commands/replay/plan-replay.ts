// The replay's plan: for each topology's consumer group (under the app id replayed into), the
// offset each input partition is set to and the offset where the replay of it is complete.
// Chosen topologies replay their inputs from --from; into a new app id, the tables (compacted
// inputs: conversations, users) are read whole, since fresh stores need every row, and the
// topologies not chosen start at the end of their inputs. Into the live app id, topologies not
// chosen keep their positions.

import type { Admin, Kafka } from 'kafkajs'
import { setGroupOffsets } from '../../../group-offsets.js'
import { topologyGroup } from './app-logs.js'
import type { TopologySources } from './replay-sources.js'
import { type PartitionReset, type Position, planPartition } from './reset-plan.js'

export interface ReplayRequest {
  readonly from: Position
  readonly to?: Position
  readonly topologies: readonly string[]
  /** True when replaying into a new app id (fresh stores). */
  readonly fresh: boolean
}

export interface GroupPlan {
  readonly topology: string
  readonly groupId: string
  readonly resets: readonly TableOrLog[]
}

/** A partition's reset, and whether its topic is a table (a compacted input). */
export type TableOrLog = PartitionReset & { readonly table: boolean }

const START: Position = { kind: 'offset', offset: 0 }
const END: Position = { kind: 'offset', offset: Number.MAX_SAFE_INTEGER }

export async function planReplay(
  admin: Admin,
  sources: readonly TopologySources[],
  request: ReplayRequest,
  targetRuntimeId: string,
): Promise<GroupPlan[]> {
  const ranges = memo((topic: string) => admin.fetchTopicOffsets(topic))
  // The broker's first offset at or after a time, per partition (-1 or none: the end).
  const atTime = memo(async (key: string) => {
    const [topic, ms] = JSON.parse(key) as [string, number]
    const found = await admin.fetchTopicOffsetsByTimestamp(topic, ms)
    return new Map(found.map((o) => [o.partition, Number(o.offset)]))
  })
  const plans: GroupPlan[] = []
  for (const s of sources) {
    const chosen = request.topologies.includes(s.topology)
    if (!chosen && !request.fresh) continue
    const resets: TableOrLog[] = []
    for (const input of s.inputs) {
      const [from, to] = !chosen
        ? [END, END]
        : request.fresh && input.compacted
          ? [START, request.to]
          : [request.from, request.to]
      const times = new Map<number, Map<number, number>>()
      for (const p of [from, to])
        if (p?.kind === 'time') times.set(p.ms, await atTime(JSON.stringify([input.topic, p.ms])))
      const partitions = [...(await ranges(input.topic))].sort((a, b) => a.partition - b.partition)
      for (const o of partitions) {
        const range = {
          topic: input.topic,
          partition: o.partition,
          low: Number(o.low),
          high: Number(o.high),
        }
        const byTime = (p: { ms: number }) => {
          const offset = times.get(p.ms)?.get(o.partition) ?? -1
          return offset < 0 ? range.high : offset
        }
        resets.push({ ...planPartition(range, from, to, byTime), table: input.compacted })
      }
    }
    plans.push({
      topology: s.topology,
      groupId: topologyGroup(targetRuntimeId, s.topology),
      resets,
    })
  }
  return plans
}

function memo<T>(load: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>()
  return (key) => {
    let hit = cache.get(key)
    if (!hit) {
      hit = load(key)
      cache.set(key, hit)
    }
    return hit
  }
}

/** Sets each group's positions (the groups must have no members: assertNoActiveMembers). */
export async function applyPlan(
  kafka: Kafka,
  admin: Admin,
  plans: readonly GroupPlan[],
): Promise<void> {
  for (const plan of plans) {
    const topics = [...new Set(plan.resets.map((r) => r.topic))].map((topic) => ({
      topic,
      partitions: plan.resets
        .filter((r) => r.topic === topic)
        .map((r) => ({ partition: r.partition, offset: String(r.from) })),
    }))
    await setGroupOffsets(kafka, admin, plan.groupId, topics)
  }
}

/**
 * A fresh replay in two phases: the tables first (every log input held at its end), then the
 * logs (the tables already read). The runtime reads a task's topics as their batches arrive,
 * not in timestamp order, so replayed at full speed a message could overtake the creation of
 * its conversation; live, the creation came first. Into the live app id the stores hold the
 * tables already: one phase.
 */
export function phases(plans: readonly GroupPlan[], fresh: boolean): GroupPlan[][] {
  if (!fresh || !plans.some((p) => p.resets.some((r) => r.table))) return [[...plans]]
  const tables = plans.map((p) => ({
    ...p,
    resets: p.resets.map((r) => (r.table ? r : { ...r, from: r.high, to: r.high, records: 0 })),
  }))
  const logs = plans.map((p) => ({ ...p, resets: p.resets.filter((r) => !r.table) }))
  return [tables, logs]
}
