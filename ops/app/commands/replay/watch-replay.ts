// Follows a running replay through its groups' committed offsets (what the topologies have
// processed, exactly once) until it is complete: every reset partition committed up to its
// end, then every derived topic (the hand-offs the replay regenerated, e.g. fanout, receipts)
// read to its end, twice in a row with nothing new, so downstream stores are complete too.

import type { Admin } from 'kafkajs'
import { topologyGroup } from './app-logs.js'
import type { GroupPlan } from './plan-replay.js'
import { type ProgressSnapshot, RateMeter } from './progress.js'
import type { TopologySources } from './replay-sources.js'

export interface WatchOptions {
  readonly intervalMs?: number
  readonly signal?: AbortSignal
  readonly onProgress: (snapshot: ProgressSnapshot) => void
}

type Committed = Map<string, number>

async function committedOf(admin: Admin, groupId: string, topics: readonly string[]) {
  const committed: Committed = new Map()
  if (topics.length === 0) return committed
  for (const t of await admin.fetchOffsets({ groupId, topics: [...topics] })) {
    for (const p of t.partitions) committed.set(`${t.topic}/${p.partition}`, Number(p.offset))
  }
  return committed
}

/** Records replayed so far, and what each reset partition still has to go. */
async function replayed(admin: Admin, plans: readonly GroupPlan[]) {
  let done = 0
  let total = 0
  const partitions = []
  for (const plan of plans) {
    const committed = await committedOf(admin, plan.groupId, [
      ...new Set(plan.resets.map((r) => r.topic)),
    ])
    for (const r of plan.resets) {
      const at = committed.get(`${r.topic}/${r.partition}`) ?? -1
      const position = Math.min(Math.max(at, r.from), r.to)
      done += position - r.from
      total += r.records
      partitions.push({ topic: r.topic, partition: r.partition, lag: r.to - position })
    }
  }
  return { done, total, partitions }
}

/** The derived topics' ends, and whether every group has committed up to them. */
async function drained(admin: Admin, runtimeId: string, sources: readonly TopologySources[]) {
  const ends = new Map<string, number>()
  for (const topic of new Set(sources.flatMap((s) => s.derived))) {
    for (const o of await admin.fetchTopicOffsets(topic)) {
      ends.set(`${topic}/${o.partition}`, Number(o.high) - Number(o.low) > 0 ? Number(o.high) : -1)
    }
  }
  let caughtUp = true
  for (const s of sources) {
    const committed = await committedOf(admin, topologyGroup(runtimeId, s.topology), s.derived)
    for (const [key, end] of ends) {
      if (!s.derived.some((t) => key.startsWith(`${t}/`))) continue
      if (end >= 0 && (committed.get(key) ?? -1) < end) caughtUp = false
    }
  }
  return { caughtUp, ends: JSON.stringify([...ends]) }
}

/** Resolves once the replay is complete (or the signal aborts). */
export async function watchReplay(
  admin: Admin,
  runtimeId: string,
  plans: readonly GroupPlan[],
  sources: readonly TopologySources[],
  options: WatchOptions,
): Promise<ProgressSnapshot> {
  const meter = new RateMeter()
  let lastEnds: string | undefined
  for (;;) {
    const progress = await replayed(admin, plans)
    const rate = meter.sample(Date.now(), progress.done)
    const inputsDone = progress.done >= progress.total
    let complete = false
    if (inputsDone) {
      const d = await drained(admin, runtimeId, sources)
      complete = d.caughtUp && d.ends === lastEnds
      lastEnds = d.caughtUp ? d.ends : undefined
    }
    const snapshot = { ...progress, rate, draining: inputsDone && !complete }
    options.onProgress(snapshot)
    if (complete || options.signal?.aborted) return snapshot
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 1_000))
  }
}
