// Outputs to a sink that carries a table's changes (`latestPerKey`): within one transaction
// only a key's latest record matters to a reader of the table, so records with the same key
// merge here and the latest goes at the commit, as Kafka Streams' record cache forwards a
// KTable's updates. The task bounds the bytes held (its record cache's size).

import type { OutRecord } from './kafka-io.js'

export class LatestOutputs {
  /** By topic, partition and key; a replaced record keeps its place. */
  private readonly records = new Map<string, { out: OutRecord; size: number }>()
  private held = 0

  /** Keeps `out` in place of the key's earlier record; false for a record without a key. */
  keep(out: OutRecord, size: number): boolean {
    if (out.key === null || out.key === undefined) return false
    const id = `${out.topic}\u0000${out.partition ?? ''}\u0000${out.key.toString('latin1')}`
    const earlier = this.records.get(id)
    if (earlier) this.held -= earlier.size
    this.records.set(id, { out, size })
    this.held += size
    return true
  }

  /** The records' size on the wire, as the outputs count it. */
  bytes(): number {
    return this.held
  }

  /** Every key's latest record, once: the caller sends them now. */
  take(): OutRecord[] {
    const taken = Array.from(this.records.values(), (r) => r.out)
    this.clear()
    return taken
  }

  clear(): void {
    this.records.clear()
    this.held = 0
  }
}
