// A task's source partitions read read_committed, each from an offset up to a stop offset
// (exclusive), merged into one stream by record time: the next record is the oldest head
// among the sources, a tie going to the source declared first. That is the order the records
// had when they were produced, which the live task took them in near enough (it takes
// fetched batches as they arrive) and Kafka Streams' task takes them in (PartitionGroup).
// A stream of one source is its log order. Used by a store rebuild's shadow run.

import type { KafkaMessage } from 'kafkajs'
import type { PartitionReader } from './partition-reader.js'

/** About this many records read ahead per source (one read of the reader: a seek and fetches). */
const READ_AHEAD = 2_000

export interface SourceRange {
  readonly topic: string
  /** The first offset to read. */
  readonly from: number
  /** The stop offset: records from here on are not read. */
  readonly target: number
}

export interface MergedRecord {
  readonly topic: string
  readonly message: KafkaMessage
}

class SourceCursor {
  private buffer: KafkaMessage[] = []
  private index = 0
  /** The next offset to fetch. */
  private next: number

  constructor(
    readonly range: SourceRange,
    private readonly reader: PartitionReader,
    private readonly partition: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.next = range.from
  }

  head(): KafkaMessage | undefined {
    return this.buffer[this.index]
  }

  take(): KafkaMessage {
    return this.buffer[this.index++] as KafkaMessage
  }

  /** Fills the buffer when it is empty and records remain before the stop offset. */
  async fill(): Promise<void> {
    const { topic, target } = this.range
    while (this.index >= this.buffer.length && this.next < target) {
      const from = this.next
      const taken: KafkaMessage[] = []
      let reached = from
      await this.reader.read(
        topic,
        this.partition,
        from,
        async ({ messages, lastOffset }) => {
          for (const m of messages) {
            const offset = Number(m.offset)
            if (offset >= from && offset < target) taken.push(m)
          }
          // Past control records and aborted ones too: they are never handed over.
          reached = Math.max(reached, lastOffset + 1)
          return reached >= target || taken.length >= READ_AHEAD
        },
        this.signal,
      )
      this.buffer = taken
      this.index = 0
      this.next = Math.min(target, Math.max(reached, from))
    }
  }
}

/** The records of every source, oldest first, up to each one's stop offset. */
export async function* mergeSources(
  reader: PartitionReader,
  partition: number,
  ranges: readonly SourceRange[],
  signal?: AbortSignal,
): AsyncGenerator<MergedRecord> {
  const cursors = ranges.map((range) => new SourceCursor(range, reader, partition, signal))
  for (;;) {
    let oldest: SourceCursor | undefined
    for (const cursor of cursors) {
      await cursor.fill()
      const head = cursor.head()
      if (!head) continue
      const best = oldest?.head()
      if (!best || Number(head.timestamp) < Number(best.timestamp)) oldest = cursor
    }
    if (!oldest) return
    yield { topic: oldest.range.topic, message: oldest.take() }
  }
}
