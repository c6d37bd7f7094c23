// How much one transaction takes on: a slice of a fetched batch ends at whichever bound it
// reaches first — records, bytes (outputs plus changelog records) or processing time. Bytes
// keep a transaction's produce requests and memory in check whatever the record sizes; time
// keeps heartbeats and wall-clock punctuators on schedule behind a slow processor.

export interface SliceLimits {
  readonly records: number
  readonly bytes: number
  readonly ms: number
}

export const DEFAULT_SLICE_LIMITS: SliceLimits = {
  records: 1_000,
  bytes: 4 * 1_048_576,
  ms: 500,
}

/** Processing gives the event loop a turn at least this often (timers, sockets, heartbeats). */
export const YIELD_EVERY_MS = 20

/** True when a slice that has processed `records` records, holding `bytes`, since `startedMs`, is full. */
export function sliceFull(
  limits: SliceLimits,
  records: number,
  bytes: number,
  startedMs: number,
  nowMs: number,
): boolean {
  return records >= limits.records || bytes >= limits.bytes || nowMs - startedMs >= limits.ms
}

/** A macrotask turn: resolved promises never let timers or I/O run, this does. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
