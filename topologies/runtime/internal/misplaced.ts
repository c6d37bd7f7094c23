// Any producer: a record on a partition that does not own its key (librdkafka's default
// partitioner hashes with CRC32, not murmur2; or the producer keyed it by something else) is
// re-routed to the partition that owns it, never processed where it landed. One extra hop, in
// the task's transaction like any output, so exactly once; a re-routed record is never
// re-routed again (a partition count that changed meanwhile cannot make it bounce).

import { partitionForKey } from '../partitioner.js'
import type { InputRecord, SourceDefinition } from '../topology.js'
import type { OutRecord } from './kafka-io.js'

/** Set on a re-routed copy: the partition the producer wrote it to. */
export const REROUTED_FROM = 'imflow-rerouted-from'

/** What to do with a record where it landed. */
export type Placement =
  | { kind: 'here' }
  /** Misplaced; this topology re-routes the topic: write `copy`, process nothing here. */
  | { kind: 'reroute'; copy: OutRecord; owner: number }
  /** Misplaced; another topology re-routes the topic: its copy is processed at the owner. */
  | { kind: 'skip'; owner: number }

/** Where nearly every record is: one object, not one per record. */
const HERE: Placement = Object.freeze({ kind: 'here' })

export function placement(
  source: SourceDefinition,
  record: InputRecord,
  rawValue: Buffer | null,
  partitions: number | undefined,
): Placement {
  if (!source.owner || partitions === undefined) return HERE
  if (record.headers[REROUTED_FROM] !== undefined) return HERE
  const owner = partitionForKey(source.owner.key(record.value), partitions)
  if (owner === record.partition) return HERE
  if (source.owner.misplaced === 'skip') return { kind: 'skip', owner }
  const headers: Record<string, Buffer | string> = {}
  for (const [name, value] of Object.entries(record.headers)) {
    // A header repeated by the producer travels with its last value.
    const one = Array.isArray(value) ? value[value.length - 1] : value
    if (one !== undefined) headers[name] = one
  }
  headers[REROUTED_FROM] = String(record.partition)
  return {
    kind: 'reroute',
    owner,
    copy: { topic: record.topic, partition: owner, key: record.key, value: rawValue, headers },
  }
}

/**
 * Says something once per producer and topic, so a misconfigured producer is named in the log
 * without a line per record. Kafka records carry no client id; the producer id (from the
 * record batch) tells idempotent producers apart, and every non-idempotent one is -1. Bounded:
 * past `max` producers it forgets them all and starts over.
 */
export class OncePerProducer {
  private readonly seen = new Set<string>()
  constructor(private readonly max = 1_000) {}

  first(topic: string, producerId: string | undefined): boolean {
    const id = `${topic}\u0000${producerId ?? '-1'}`
    if (this.seen.has(id)) return false
    if (this.seen.size >= this.max) this.seen.clear()
    this.seen.add(id)
    return true
  }
}
