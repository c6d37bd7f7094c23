// The per-user sync queue: every event bound for a user, at its PTS, kept for the last
// `retention` PTS. A source event (a msgId, a read, a membership change) gets its PTS once;
// the index finds it again, so reprocessing the same input never sequences it twice. The
// index outlives the queue's retention: an event replayed from the log long after it left the
// queue keeps its PTS (docs/replay.md).

import { storeCodec } from '../../schemas/codec.js'
import type { SequencedEvent, SyncEvent } from '../../schemas/types.generated.js'
import { type CommittedStore, int64Serde, type ReadWriteStore } from '../../state/index.js'
import { ptsIndexKey as indexKey, syncQueueKey as queueKey, userPrefix } from '../model/index.js'

const syncEvent = storeCodec('SyncEvent')

/** sourceId (length-prefixed), then the event's Avro body: a queue entry, the same for every recipient. */
export function encodeEntry(sourceId: string, event: SyncEvent): Buffer {
  const id = Buffer.from(sourceId)
  const length = Buffer.alloc(2)
  length.writeUInt16BE(id.length)
  return Buffer.concat([length, id, syncEvent.encode(event)])
}

/**
 * Entries decoded, by their bytes. A hand-off's entry is one Buffer for all its recipients
 * (sequence.ts), and the store hands that Buffer back until RocksDB's copy is read: pushing a
 * message to a group's members decodes it once, not once per member. Events are never changed
 * once decoded (envelopes are encoded from them as they are).
 */
const decodedEvents = new WeakMap<Buffer, SyncEvent>()

function entryEvent(bytes: Buffer): SyncEvent {
  let event = decodedEvents.get(bytes)
  if (!event) {
    event = syncEvent.decode(bytes.subarray(2 + bytes.readUInt16BE(0)))
    decodedEvents.set(bytes, event)
  }
  return event
}

/** Up to this many events a push reads by key (PTS are contiguous per user). */
const POINT_READS_UP_TO = 64

type Readable = Pick<ReadWriteStore, 'range'> | CommittedStore

/** Events with from <= PTS <= to, in PTS order. */
export async function* readQueue(
  queue: Readable,
  userId: string,
  from: number,
  to: number,
): AsyncGenerator<SequencedEvent> {
  if (to < from) return
  for await (const [key, value] of queue.range({
    gte: queueKey(userId, Math.max(0, from)),
    lt: queueKey(userId, to + 1),
  })) {
    const pts = int64Serde.deserialize(key.subarray(key.length - 8))
    yield { pts, event: entryEvent(value) }
  }
}

export class SyncLog {
  constructor(
    private readonly queue: ReadWriteStore,
    private readonly index: ReadWriteStore,
    private readonly retention: number,
  ) {}

  /** The PTS the source event already has for this user, if it was sequenced before. */
  async ptsOf(userId: string, sourceId: string): Promise<number | undefined> {
    const bytes = await this.index.get(indexKey(userId, sourceId))
    return bytes === undefined ? undefined : int64Serde.deserialize(bytes)
  }

  /** Reads ahead what ptsOf() will ask about these (user, source event) pairs. */
  prefetch(pairs: readonly { userId: string; sourceId: string }[]): Promise<void> {
    return this.index.prefetch(pairs.map((p) => indexKey(p.userId, p.sourceId)))
  }

  /**
   * Appends the entry (encodeEntry's, of `sourceId`) at `pts` (the user's new head) and drops
   * what falls out of the queue's retention.
   */
  async append(userId: string, pts: number, sourceId: string, entry: Buffer): Promise<void> {
    this.queue.put(queueKey(userId, pts), entry)
    this.index.put(indexKey(userId, sourceId), int64Serde.serialize(pts))
    const dropped = pts - this.retention
    if (dropped >= 1) this.queue.delete(queueKey(userId, dropped))
  }

  /** Drops the user's queue and PTS index (their stream goes on elsewhere: user-moves.ts). */
  async forget(userId: string): Promise<void> {
    for (const store of [this.queue, this.index]) {
      const keys: Buffer[] = []
      for await (const [key] of store.prefix(userPrefix(userId))) keys.push(key)
      for (const key of keys) store.delete(key)
    }
  }

  /**
   * Events with from <= PTS <= to. A push's few newest events were just written: point reads
   * find them in the store's pending writes or read cache, where a range scan would open a
   * RocksDB iterator; a log-in's backlog is read with one scan.
   */
  async *read(userId: string, from: number, to: number): AsyncGenerator<SequencedEvent> {
    if (to - from >= POINT_READS_UP_TO) {
      yield* readQueue(this.queue, userId, from, to)
      return
    }
    for (let pts = from; pts <= to; pts++) {
      const bytes = await this.queue.get(queueKey(userId, pts))
      if (bytes) yield { pts, event: entryEvent(bytes) }
    }
  }
}
