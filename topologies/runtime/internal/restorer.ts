// Restores task stores from their changelog partitions: one partition reader per running
// topology over its changelogs; a task asks for a partition and gets its records applied
// from an offset up to the marker it committed when it opened. On the way the restore notes
// the latest backfill progress record (backfill-plan.ts), which is no store write.

import type { Kafka } from 'kafkajs'
import type { Logger } from '../../../ops/log.js'
import type { WriteOp } from '../../../state/index.js'
import { BACKFILL, DATA, MARKER, POSITION } from '../changelog.js'
import { PartitionReader } from './partition-reader.js'

export interface RestoreResult {
  /** Records applied to the store. */
  readonly records: number
  /** The changelog offset after the marker: where a later restore may start. */
  readonly endOffset: number
  /** The value of the latest backfill progress record read, if any. */
  readonly backfill: Buffer | undefined
  /** Source topic -> the latest position record read for it. */
  readonly positions: ReadonlyMap<string, number>
}

export class Restorer {
  private readonly reader: PartitionReader

  constructor(kafka: Kafka, topics: readonly string[], groupId: string, log?: Logger) {
    this.reader = new PartitionReader(kafka, topics, groupId, log)
  }

  start(): Promise<void> {
    return this.reader.start()
  }

  /** Applies the partition's records from `fromOffset` up to `marker` (which must be committed). */
  async restore(
    topic: string,
    partition: number,
    fromOffset: number,
    marker: Buffer,
    apply: (ops: WriteOp[]) => Promise<void>,
  ): Promise<RestoreResult> {
    let records = 0
    let endOffset = -1
    let backfill: Buffer | undefined
    const positions = new Map<string, number>()
    await this.reader.read(topic, partition, fromOffset, async ({ messages }) => {
      const ops: WriteOp[] = []
      for (const m of messages) {
        const key = m.key
        if (!key || key.length === 0) continue
        if (key[0] === DATA) ops.push({ key: key.subarray(1), value: m.value })
        else if (key[0] === BACKFILL && m.value) backfill = m.value
        else if (key[0] === POSITION && m.value)
          positions.set(key.subarray(1).toString(), Number(m.value.toString()))
        else if (key[0] === MARKER && key.equals(marker)) {
          endOffset = Number(m.offset) + 1
          break
        }
      }
      await apply(ops)
      records += ops.length
      return endOffset >= 0
    })
    return { records, endOffset, backfill, positions }
  }

  /**
   * Whether the partition holds a committed record below `high` (any: a write, a marker):
   * reads up to the first one. Asked before the task writes to the partition, when its own
   * producer has fenced any earlier one: no open transaction holds the read up.
   */
  async hasCommitted(topic: string, partition: number, high: number): Promise<boolean> {
    let found = false
    await this.reader.read(topic, partition, 0, async ({ messages, lastOffset }) => {
      found = messages.length > 0
      return found || lastOffset >= high - 1
    })
    return found
  }

  stop(): Promise<void> {
    return this.reader.stop()
  }
}
