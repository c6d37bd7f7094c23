// Where a replay starts and ends in each source partition: `--from` and `--to` are an ISO
// time (the first record at or after it, as Kafka's ListOffsets by timestamp answers) or an
// offset (the same in every partition), clamped to what the log still holds.

import { ImflowError } from '../../../errors.js'

export type Position =
  | { readonly kind: 'time'; readonly ms: number }
  | { readonly kind: 'offset'; readonly offset: number }

/** `--from` / `--to`: an ISO time (2026-11-26T10:00:00Z) or a whole offset. */
export function parsePosition(raw: string, flag: string): Position {
  const text = raw.trim()
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: Number(text) }
  // Date.parse takes many shapes; an ISO date (with or without a time) is what is promised.
  const ms = /^\d{4}-\d{2}-\d{2}(T|$)/.test(text) ? Date.parse(text) : Number.NaN
  if (!Number.isFinite(ms)) {
    throw new ImflowError(
      'IMF_ERR_USAGE',
      `${flag}="${raw}": expected an ISO time (2026-11-26T10:00:00Z) or an offset (a whole number)`,
    )
  }
  return { kind: 'time', ms }
}

export interface PartitionRange {
  readonly topic: string
  readonly partition: number
  /** The log's first offset still held, and the next offset to be written. */
  readonly low: number
  readonly high: number
}

export interface PartitionReset extends PartitionRange {
  /** The offset the group is set to: the first record replayed. */
  readonly from: number
  /** The replay is complete once the group has committed this offset. */
  readonly to: number
  /** to - from. */
  readonly records: number
}

/**
 * The reset of one partition. `byTime` is the broker's answer for a time position (the first
 * offset at or after it, or the high watermark when none is).
 */
export function planPartition(
  range: PartitionRange,
  from: Position,
  to: Position | undefined,
  byTime: (position: Position & { kind: 'time' }) => number,
): PartitionReset {
  const clamp = (n: number) => Math.min(Math.max(n, range.low), range.high)
  const resolve = (p: Position) => clamp(p.kind === 'offset' ? p.offset : byTime(p))
  const start = resolve(from)
  const end = to === undefined ? range.high : Math.max(start, resolve(to))
  return { ...range, from: start, to: end, records: end - start }
}
