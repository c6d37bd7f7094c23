// Produce requests bounded in bytes and in records. A broker refuses a record batch larger
// than its message.max.bytes (1 MB by default) with MESSAGE_TOO_LARGE, and kafkajs sends
// everything one sendBatch holds for a partition as one batch: a transaction's outputs and
// changelog records therefore go out in several requests, each under the limit. A request
// also carries at most MAX_RECORDS_PER_REQUEST records: kafkajs encodes it in one go, on the
// event loop (its grouping by partition is linear since ops/kafkajs-partition-grouping.ts;
// quadratic before, which held requests to 500 records and a slice's outputs to several
// round trips, one at a time).

/** Records per produce request: encoding them is one stretch of the event loop's time. */
export const MAX_RECORDS_PER_REQUEST = 5_000
/** Kafka's default message.max.bytes (1 MiB + 12) and the producer's max.request.size (1 MiB). */
export const DEFAULT_MAX_BATCH_BYTES = 1_048_576
/** A record batch's header (61 bytes) and the request's per-topic and per-partition framing. */
const BATCH_OVERHEAD_BYTES = 128
/** The upper bound of a record's own framing: length, attributes, deltas and lengths as varints. */
const RECORD_OVERHEAD_BYTES = 32
const HEADER_OVERHEAD_BYTES = 10

export interface SizedRecord {
  key: Buffer | null
  value: Buffer | null
  headers?: Record<string, Buffer | string>
}

function byteLength(b: Buffer | string | null | undefined): number {
  if (b === null || b === undefined) return 0
  return typeof b === 'string' ? Buffer.byteLength(b) : b.length
}

/** A record's size on the wire, never under-estimated (uncompressed, varints at their longest). */
export function recordBytes(record: SizedRecord): number {
  let size = RECORD_OVERHEAD_BYTES + byteLength(record.key) + byteLength(record.value)
  if (record.headers) {
    for (const [name, value] of Object.entries(record.headers))
      size += HEADER_OVERHEAD_BYTES + Buffer.byteLength(name) + byteLength(value)
  }
  return size
}

/** The largest record that fits a batch of `maxBatchBytes` on its own. */
export function maxRecordBytes(maxBatchBytes = DEFAULT_MAX_BATCH_BYTES): number {
  return maxBatchBytes - BATCH_OVERHEAD_BYTES
}

/**
 * Splits records, in order, into requests of at most `maxBatchBytes` each (counted over all
 * partitions, so no partition's batch can be larger) and MAX_RECORDS_PER_REQUEST records. A
 * record larger than that on its own gets a request of its own: the caller refuses those
 * before they get here.
 */
export function produceRequests<T extends SizedRecord>(
  records: readonly T[],
  maxBatchBytes = DEFAULT_MAX_BATCH_BYTES,
): T[][] {
  const budget = maxRecordBytes(maxBatchBytes)
  const chunks: T[][] = []
  let current: T[] = []
  let bytes = 0
  for (const record of records) {
    const size = recordBytes(record)
    if (
      current.length >= MAX_RECORDS_PER_REQUEST ||
      (current.length > 0 && bytes + size > budget)
    ) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push(record)
    bytes += size
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}
