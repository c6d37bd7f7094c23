// Reads topic partitions from their start to the end they had when asked, read_committed:
// what `imflow digest` folds into a store's state. kafkajs never delivers control records
// (transaction markers), so a partition whose log ends in one is seen to be done by the
// batch instrumentation event, which reports the offsets a filtered batch covered.

import { randomBytes } from 'node:crypto'
import type { Admin, Kafka } from 'kafkajs'
import { ImflowError } from '../../../errors.js'

export interface PartitionEnd {
  readonly topic: string
  readonly partition: number
  /** The first offset not to read: the partition's high watermark when the read began. */
  readonly end: number
  /** The log's start (earlier offsets were deleted or compacted away). */
  readonly start: number
}

/** Every partition of the topics, with where its log starts and ends now. */
export async function partitionEnds(admin: Admin, topics: readonly string[]) {
  const ends: PartitionEnd[] = []
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      ends.push({ topic, partition: p.partition, end: Number(p.high), start: Number(p.low) })
    }
  }
  return ends
}

export interface ReadOptions {
  /** Give up when no partition moved for this long (an open transaction never ends). */
  idleTimeoutMs?: number
}

type OnRecord = (topic: string, partition: number, key: Buffer | null, value: Buffer | null) => void

/** Calls `onRecord` for every committed record below each partition's end, in log order. */
export async function readToEnd(
  kafka: Kafka,
  ends: readonly PartitionEnd[],
  onRecord: OnRecord,
  options: ReadOptions = {},
): Promise<void> {
  const pending = new Map(ends.filter((e) => e.end > e.start).map((e) => [at(e), e]))
  if (pending.size === 0) return
  // A group of its own that never commits: the read changes nothing of the app's groups.
  const consumer = kafka.consumer({
    groupId: `imflow-read-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 200,
  })
  let moved = Date.now()
  let finish: (err?: unknown) => void = () => {}
  const done = new Promise<void>((resolve, reject) => {
    finish = (err) => (err ? reject(err) : resolve())
  })
  const reached = (topic: string, partition: number, offset: number) => {
    moved = Date.now()
    const e = pending.get(`${topic}/${partition}`)
    if (e && offset >= e.end - 1) pending.delete(at(e))
    if (pending.size === 0) finish()
  }
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
    reached(payload.topic, payload.partition, Number(payload.lastOffset)),
  )
  const idleMs = options.idleTimeoutMs ?? 30_000
  const watchdog = setInterval(() => {
    if (Date.now() - moved < idleMs) return
    const left = [...pending.keys()].join(', ')
    finish(
      new ImflowError(
        'IMF_ERR_LOG_STALLED',
        `Reading to the end stalled for ${idleMs} ms on ${left}: a transaction there is still open (is the app running? stop it, or run this again)`,
      ),
    )
  }, 500)
  try {
    await consumer.connect()
    await consumer.subscribe({
      topics: [...new Set(ends.map((e) => e.topic))],
      fromBeginning: true,
    })
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const e = pending.get(`${batch.topic}/${batch.partition}`)
        if (!e) return
        for (const m of batch.messages) {
          if (Number(m.offset) >= e.end) break
          onRecord(batch.topic, batch.partition, m.key, m.value)
        }
      },
    })
    await done
  } finally {
    clearInterval(watchdog)
    await consumer.disconnect()
  }
}

function at(e: PartitionEnd): string {
  return `${e.topic}/${e.partition}`
}
