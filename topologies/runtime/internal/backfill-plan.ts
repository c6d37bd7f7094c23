// Whether a task's store must be built from the log before the task goes live, and from
// where to where: decided at each open from what the store's changelog says, never from
// anything local, so a crash at any point decides the same again.
//
// The changelog keeps the backfill's progress under one key (BACKFILL_KEY), committed in the
// same transaction as the store writes it covers: restored with them, it says how far the
// store got. Without one, data in the changelog means the store ran before (it was there
// before its backfill was declared): it is left as it is. Neither: the store is new here, and
// is built from the earliest retained offset of its source partition up to the group's
// committed position (what the task's other stores have seen). Kafka Streams restores a store
// whose changelog is its source topic the same way: up to the main consumer's committed
// offset (StoreChangelogReader, changelogAsSource).

import { ImflowError } from '../../../ops/errors.js'

export interface BackfillProgress {
  readonly topic: string
  /** The next input offset to fold. */
  readonly next: number
  /** Where the backfill ends: the group's committed position when it began. */
  readonly target: number
  readonly done: boolean
}

export function encodeProgress(progress: BackfillProgress): Buffer {
  return Buffer.from(JSON.stringify(progress))
}

export function decodeProgress(bytes: Buffer): BackfillProgress {
  const value = JSON.parse(bytes.toString()) as Partial<BackfillProgress>
  const { topic, next, target, done } = value
  if (
    typeof topic !== 'string' ||
    typeof next !== 'number' ||
    typeof target !== 'number' ||
    typeof done !== 'boolean'
  ) {
    throw new ImflowError(
      'IMF_ERR_INTERNAL',
      `a changelog's backfill record does not read: ${bytes.toString().slice(0, 200)}`,
    )
  }
  return { topic, next, target, done }
}

/** What the store's restore found. */
export interface StoreHistory {
  /** Restored from the task's checkpoint: the task was open with this store before. */
  readonly fromCheckpoint: boolean
  /** The latest progress record in the changelog, if any. */
  readonly progress: BackfillProgress | undefined
  /** The restore applied store writes. */
  readonly hasData: boolean
}

export type HistoryAnswer =
  /** Built already, or a store that ran before: nothing to do. */
  | { readonly kind: 'built' }
  /** Data and no progress record: a store that ran before its backfill was declared. */
  | { readonly kind: 'existing' }
  | { readonly kind: 'resume'; readonly progress: BackfillProgress }
  | { readonly kind: 'new' }

export function fromHistory(history: StoreHistory): HistoryAnswer {
  // A task opens only once its backfills are done, and only an open task writes a checkpoint.
  if (history.fromCheckpoint) return { kind: 'built' }
  if (history.progress) {
    return history.progress.done
      ? { kind: 'built' }
      : { kind: 'resume', progress: history.progress }
  }
  return history.hasData ? { kind: 'existing' } : { kind: 'new' }
}

export interface InputPositions {
  /** The group's committed offset for the partition; undefined: it has none. */
  readonly committed: number | undefined
  /** The earliest offset the partition still holds. */
  readonly low: number
  /** Its end (the next offset to be written). */
  readonly high: number
}

export interface ReadRange {
  readonly from: number
  readonly target: number
  /** The target was past the partition's end (a topic deleted and created again) and was cut. */
  readonly cut: boolean
}

/** The offsets to fold, [from, target): empty when there is nothing (from >= target). */
export function readRange(
  answer: Extract<HistoryAnswer, { kind: 'resume' | 'new' }>,
  positions: InputPositions,
): ReadRange {
  const { low, high } = positions
  // A new store with no committed position: the task reads the partition from its start.
  const wanted = answer.kind === 'resume' ? answer.progress.target : (positions.committed ?? low)
  const start = answer.kind === 'resume' ? answer.progress.next : low
  const target = Math.min(wanted, high)
  // What retention deleted meanwhile is gone: go on from the earliest offset there is.
  const from = Math.min(Math.max(start, low), target)
  return { from, target, cut: wanted > high }
}
