// One input record into a store being backfilled, as the task would have taken it: decoded
// by its source, skipped where the task does not process it (misplaced: its re-routed copy
// is folded at its owner; undecodable or failing: dead-lettered when it was processed), then
// the store's fold. No Kafka here: the backfill (backfill.ts) reads and commits around it.

import { isImflowError } from '../../../ops/errors.js'
import type { ReadWriteStore } from '../../../state/index.js'
import type { InputRecord, StoreBackfill, TopologyDefinition } from '../topology.js'
import { decodeSourceValue } from './decode-source.js'
import { placement } from './misplaced.js'
import type { ConsumedMessage } from './task-core.js'

export interface BackfillCounts {
  /** Records folded into the store. */
  folded: number
  /** Records the task did not process here: misplaced, undecodable, or failing. */
  skipped: number
}

const retriable = (err: unknown) =>
  isImflowError(err) ? err.retriable : (err as { retriable?: boolean })?.retriable === true

export class BackfillFold {
  readonly counts: BackfillCounts = { folded: 0, skipped: 0 }
  private readonly source: TopologyDefinition['sources'][number] | undefined

  constructor(
    private readonly topology: TopologyDefinition,
    private readonly backfill: StoreBackfill,
    private readonly store: ReadWriteStore,
    private readonly partition: number,
    /** The sources' partition count: with it, misplaced records are told apart. */
    private readonly partitions: number | undefined,
  ) {
    this.source = topology.sources.find((s) => s.topic === backfill.topic)
  }

  /** Throws only what the task would retry (or stop on, under the 'fail' policy). */
  async apply(message: ConsumedMessage): Promise<void> {
    const { topic } = this.backfill
    let value: unknown
    try {
      value = await decodeSourceValue(this.source, message.value)
    } catch (err) {
      if (retriable(err)) throw err
      this.counts.skipped++
      return
    }
    const record: InputRecord = {
      topic,
      partition: this.partition,
      offset: message.offset,
      timestamp: Number(message.timestamp),
      key: message.key,
      value,
      headers: message.headers ?? {},
    }
    if (this.source && this.misplaced(record, message.value)) {
      this.counts.skipped++
      return
    }
    try {
      await this.backfill.fold(record, this.store)
      this.counts.folded++
    } catch (err) {
      if (retriable(err) || this.topology.onProcessingError === 'fail') throw err
      this.counts.skipped++
    }
  }

  private misplaced(record: InputRecord, raw: Buffer | null): boolean {
    try {
      return (
        placement(this.source as NonNullable<typeof this.source>, record, raw, this.partitions)
          .kind !== 'here'
      )
    } catch {
      // The owner key does not read: the task processes such a record where it is.
      return false
    }
  }
}
