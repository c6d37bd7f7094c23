// Builds a task's new stores (no fold declared) from the retained log before the task opens
// (docs/replay.md, "Backfill"): a shadow run of the task, then a copy.
//
// The processor that writes a new store also reads the task's other stores, whose content
// is later than the records re-read (a dedupe store would call every message a duplicate),
// so the records cannot just be run again through the live task. The shadow is the task
// itself run again from the start, like a replay --into: the same processor over fresh stores
// of its own (RocksDB in a scratch folder), fed the task's source partitions from the
// earliest retained offset up to exactly the group's committed positions (what the live
// stores have seen; nothing after them, which the live task processes next), oldest record
// first (source-merge.ts), its outputs dropped (the live run sent them). Then each new store's
// shadow content goes into the live store and its changelog, in bounded transactions of the
// task's own producer, each with a progress record; the last one says "done".
//
// Across a crash: the store was marked "rebuild, not done" with the task's restore markers
// (rebuild-plan.ts), so any later open of the task, here or on another instance, finds it
// not done and does it all again; the copy writes what differs from the shadow (and deletes
// what the shadow does not hold), so a copy cut short is finished, not doubled.

import { join } from 'node:path'
import { silentLogger } from '../../../ops/log.js'
import { retry } from '../../../ops/retry.js'
import { ChangeloggedStore, RocksDbStore } from '../../../state/index.js'
import type { BackfillContext } from './backfill.js'
import { commitChunk } from './backfill-commit.js'
import { maxRecordBytes } from './output-batches.js'
import { PartitionReader } from './partition-reader.js'
import { isRebuild, rebuildProgress } from './rebuild-plan.js'
import { DEFAULT_SLICE_LIMITS, YIELD_EVERY_MS, yieldToEventLoop } from './slice-bounds.js'
import { mergeSources, type SourceRange } from './source-merge.js'
import { TaskCore } from './task-core.js'

/** A progress line this often while a rebuild runs. */
const PROGRESS_EVERY_MS = 5_000

/** The shadow's dead letters: the live run wrote them; the shadow's outputs are dropped. */
const DROPPED_DEAD_LETTERS = { topic: '(shadow run)', encode: () => Buffer.alloc(0) }

interface Shadow {
  readonly core: TaskCore
  readonly stores: ReadonlyMap<string, ChangeloggedStore>
  close(): Promise<void>
}

/** Rebuilds the task's stores marked for it, all from one shadow run. */
export async function rebuildStores(context: BackfillContext): Promise<void> {
  const names = [...context.histories]
    .filter(([, history]) => isRebuild(history.progress) && !history.progress?.done)
    .map(([name]) => name)
  if (names.length === 0) return
  const { log, taskId: task } = context
  const ranges = await sourceRanges(context)
  const cut = ranges.filter((r) => r.low > 0)
  if (cut.length > 0)
    log.warn(
      'the log no longer holds the start of the sources (retention): the new stores are built from what it holds; replay --into a new app id cannot do more (docs/replay.md, Backfill)',
      { task, stores: names, from: cut.map((r) => `${r.topic}@${r.low}`) },
    )
  log.info('rebuilding new stores by a shadow run of the task over the retained log', {
    task,
    stores: names,
    to: ranges.map((r) => `${r.topic}@${r.target}`),
  })
  const shadow = await openShadow(context)
  try {
    if (shadow.core.wallClockInterval() !== undefined)
      log.warn(
        'the topology has wall-clock punctuators, which a shadow run does not run: what they would have written to the new stores is not in them (docs/replay.md, Backfill)',
        { task, stores: names },
      )
    const records = await runShadow(context, shadow, ranges)
    for (const name of names) {
      await copyStore(context, name, shadow.stores.get(name) as ChangeloggedStore)
      context.metrics?.backfilledRecords.inc(
        { topology: context.topology.name, store: name },
        records,
      )
    }
  } finally {
    await shadow.close()
  }
}

interface PositionedRange extends SourceRange {
  readonly low: number
}

/** Each source partition from its earliest retained offset up to the group's committed one. */
async function sourceRanges(context: BackfillContext): Promise<PositionedRange[]> {
  const topics = context.topology.sources.map((s) => s.topic)
  const admin = context.kafka.admin()
  await admin.connect()
  try {
    const [ends, groups] = await retry(() =>
      Promise.all([
        Promise.all(topics.map((topic) => admin.fetchTopicOffsets(topic))),
        admin.fetchOffsets({ groupId: context.groupId, topics }),
      ]),
    )
    return topics.map((topic, i) => {
      const here = ends[i]?.find((o) => o.partition === context.partition)
      const group = groups.find((g) => g.topic === topic)
      const committed = Number(
        group?.partitions.find((p) => p.partition === context.partition)?.offset ?? -1,
      )
      const low = Number(here?.low ?? 0)
      const high = Number(here?.high ?? 0)
      // No committed position: the live task reads the partition from its start itself.
      const target = committed >= 0 ? Math.min(committed, high) : low
      return { topic, from: low, target: Math.max(low, target), low }
    })
  } finally {
    await admin.disconnect()
  }
}

/** The task's processor over fresh stores in a scratch folder (wiped first: a crash leaves one). */
async function openShadow(context: BackfillContext): Promise<Shadow> {
  const { topology, partition, appId } = context
  const dir = join(context.stateDir, appId, '.rebuild', topology.name, String(partition))
  await RocksDbStore.destroy(dir)
  const raws: RocksDbStore[] = []
  const stores = new Map<string, ChangeloggedStore>()
  const close = async () => {
    for (const raw of raws) await raw.close().catch(() => {})
    await RocksDbStore.destroy(dir)
  }
  try {
    for (const name of topology.stores ?? []) {
      const raw = await RocksDbStore.open(join(dir, name))
      raws.push(raw)
      // Bounded as the live task's stores are: a write it refused, the shadow refuses too.
      stores.set(name, new ChangeloggedStore(name, raw, { maxRecordBytes: maxRecordBytes() - 1 }))
    }
    const core = new TaskCore({
      appId,
      topology,
      partition,
      stores,
      partitions: context.partitions,
      deadLetters: DROPPED_DEAD_LETTERS,
      // What it would say (dead letters, misplaced records) the live run said.
      log: silentLogger,
    })
    return {
      core,
      stores,
      close: async () => {
        await core.close().catch(() => {})
        await close()
      },
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** Runs the merged sources through the shadow; answers how many records it processed. */
async function runShadow(
  context: BackfillContext,
  shadow: Shadow,
  ranges: readonly SourceRange[],
): Promise<number> {
  const { core } = shadow
  const { log, signal, taskId: task } = context
  const limits = context.sliceLimits ?? DEFAULT_SLICE_LIMITS
  const total = ranges.reduce((sum, r) => sum + (r.target - r.from), 0)
  const reader = new PartitionReader(
    context.kafka,
    ranges.map((r) => r.topic),
    `${context.groupId}-rebuild-${context.partition}-${Date.now().toString(36)}`,
    log,
  )
  const flush = async () => {
    await core.beforeCommit()
    core.takeRecords(true)
    await core.commit()
    await core.landed()
  }
  const started = performance.now()
  let reported = started
  let yielded = started
  let records = 0
  let inSlice = 0
  await reader.start()
  try {
    for await (const { topic, message } of mergeSources(
      reader,
      context.partition,
      ranges,
      signal,
    )) {
      signal?.throwIfAborted()
      await core.process(topic, message)
      records++
      if (++inSlice >= limits.records || core.pendingBytes() >= limits.bytes) {
        await flush()
        inSlice = 0
      }
      const now = performance.now()
      if (now - yielded >= YIELD_EVERY_MS) {
        await yieldToEventLoop()
        yielded = performance.now()
      }
      if (now - reported >= PROGRESS_EVERY_MS) {
        reported = now
        const seconds = (now - started) / 1000
        log.info('store rebuild progress', {
          task,
          records,
          of: total,
          percent: Math.floor((100 * records) / Math.max(total, 1)),
          perSecond: Math.round(records / Math.max(seconds, 0.001)),
          seconds: Math.round(seconds * 10) / 10,
        })
      }
    }
    await flush()
  } finally {
    await reader.stop().catch(() => {})
  }
  log.info('store rebuild: shadow run done', {
    task,
    records,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  })
  return records
}

/** Key order, as RocksDB iterates. */
const compare = (a: Buffer, b: Buffer) => Buffer.compare(a, b)

/**
 * Makes the live store hold what the shadow's does: writes what differs, deletes what the
 * shadow lacks (a copy cut short by a crash), in bounded transactions; the last says done.
 */
async function copyStore(
  context: BackfillContext,
  name: string,
  shadow: ChangeloggedStore,
): Promise<void> {
  const live = context.stores.get(name) as ChangeloggedStore
  const limits = context.sliceLimits ?? DEFAULT_SLICE_LIMITS
  const theirs = shadow.committed.range()[Symbol.asyncIterator]()
  const ours = live.committed.range()[Symbol.asyncIterator]()
  let a = await theirs.next()
  let b = await ours.next()
  let inChunk = 0
  let written = 0
  let kept = 0
  const wrote = async () => {
    written++
    if (++inChunk >= limits.records || live.pendingBytes() >= limits.bytes) {
      context.signal?.throwIfAborted()
      await commitChunk(context, name, live, rebuildProgress(false))
      inChunk = 0
    }
  }
  while (!a.done || !b.done) {
    const order = a.done ? 1 : b.done ? -1 : compare(a.value[0], b.value[0])
    if (order < 0) {
      live.put(...(a.value as [Buffer, Buffer]))
      a = await theirs.next()
      await wrote()
    } else if (order > 0) {
      live.delete((b.value as [Buffer, Buffer])[0])
      b = await ours.next()
      await wrote()
    } else {
      const [key, value] = a.value as [Buffer, Buffer]
      const same = value.equals((b.value as [Buffer, Buffer])[1])
      if (same) kept++
      else live.put(key, value)
      a = await theirs.next()
      b = await ours.next()
      if (!same) await wrote()
    }
  }
  await commitChunk(context, name, live, rebuildProgress(true))
  // kept: entries an interrupted copy had written already.
  context.log.info('store rebuilt', { task: context.taskId, store: name, written, kept })
}
