// Message ids: 64-bit, globally unique, time-ordered, as decimal strings.
//
//   0 | 41 bits: ms since 2024-01-01 | 5 bits: unit | 9 bits: worker | 8 bits: sequence
//
// A worker is one receiver task (one input partition) in one unit, so two workers never
// share the low 22 bits. Within a worker ids strictly increase: the time part never goes
// back (a clock step back keeps the last time and counts on), a full sequence borrows the
// next millisecond. A restart resumes from the last id issued when that is persisted with the
// outputs that carry it (exactly once: the receiver's `ids` store), so it issues what a run
// without the restart would have, which a replay resumed after a crash relies on; otherwise it
// starts above a persisted high-water mark, reserved ahead once a second.

export const MSG_ID_EPOCH_MS = Date.UTC(2024, 0, 1)
const TIME_BITS = 41n
const UNIT_BITS = 5n
const WORKER_BITS = 9n
const SEQUENCE_BITS = 8n
export const MAX_UNIT = Number((1n << UNIT_BITS) - 1n)
export const MAX_WORKER = Number((1n << WORKER_BITS) - 1n)
const MAX_SEQUENCE = Number((1n << SEQUENCE_BITS) - 1n)
const MAX_TIME = Number((1n << TIME_BITS) - 1n)

export interface MsgIdParts {
  /** Milliseconds since the Unix epoch. */
  readonly timeMs: number
  readonly unit: number
  readonly worker: number
  readonly sequence: number
}

export function composeMsgId(parts: MsgIdParts): string {
  const t = BigInt(parts.timeMs - MSG_ID_EPOCH_MS)
  const id =
    (t << (UNIT_BITS + WORKER_BITS + SEQUENCE_BITS)) |
    (BigInt(parts.unit) << (WORKER_BITS + SEQUENCE_BITS)) |
    (BigInt(parts.worker) << SEQUENCE_BITS) |
    BigInt(parts.sequence)
  return id.toString()
}

const MSG_ID = /^\d{1,19}$/

/** Whether `id` has a message id's form: decimal, at most 19 digits. */
export function isMsgId(id: string): boolean {
  return MSG_ID.test(id)
}

/** A message id's 8 bytes, big-endian: they order as the ids do. */
export function msgIdBytes(id: string): Buffer {
  const bytes = Buffer.allocUnsafe(8)
  bytes.writeBigUInt64BE(BigInt(id))
  return bytes
}

export function parseMsgId(id: string): MsgIdParts {
  if (!isMsgId(id)) throw new RangeError(`not a message id: ${JSON.stringify(id)}`)
  const n = BigInt(id)
  const mask = (bits: bigint) => (1n << bits) - 1n
  return {
    timeMs: Number(n >> (UNIT_BITS + WORKER_BITS + SEQUENCE_BITS)) + MSG_ID_EPOCH_MS,
    unit: Number((n >> (WORKER_BITS + SEQUENCE_BITS)) & mask(UNIT_BITS)),
    worker: Number((n >> SEQUENCE_BITS) & mask(WORKER_BITS)),
    sequence: Number(n & mask(SEQUENCE_BITS)),
  }
}

/** Orders decimal ids numerically (a shorter id is smaller). */
export function compareMsgIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}

export interface MsgIdGeneratorOptions {
  unit: number
  worker: number
  /** The high-water mark persisted by an earlier run (ms); ids start above it. */
  floorMs?: number
  /**
   * The `position()` after the last id an earlier run issued, persisted atomically with the
   * outputs carrying it: the generator goes on from there exactly (the floor is not needed).
   */
  resumeAt?: number
  /**
   * Called when the generator needs more room: ids up to `untilMs` may now be issued. The
   * caller must persist it with (or before) the first output carrying such an id.
   */
  reserve: (untilMs: number) => void
  reserveStepMs?: number
  clock?: () => number
}

export interface MsgIdGenerator {
  next(): string
  /** Where the last id left the generator (its time and sequence), for `resumeAt`. */
  position(): number
}

export function createMsgIdGenerator(options: MsgIdGeneratorOptions): MsgIdGenerator {
  const { unit, worker, reserve, reserveStepMs = 1_000, clock = Date.now } = options
  if (!Number.isInteger(unit) || unit < 0 || unit > MAX_UNIT) {
    throw new RangeError(`msg-id unit must be 0..${MAX_UNIT}, got ${unit}`)
  }
  if (!Number.isInteger(worker) || worker < 0 || worker > MAX_WORKER) {
    throw new RangeError(`msg-id worker must be 0..${MAX_WORKER}, got ${worker}`)
  }
  // Everything below the floor may have been issued before a restart: start after it.
  let lastMs = (options.floorMs ?? 0) > 0 ? (options.floorMs as number) : -1
  let sequence = MAX_SEQUENCE
  if (options.resumeAt !== undefined) {
    lastMs = Math.floor(options.resumeAt / (MAX_SEQUENCE + 1)) + MSG_ID_EPOCH_MS
    sequence = options.resumeAt % (MAX_SEQUENCE + 1)
  }
  let reservedUntil = options.floorMs ?? 0
  return {
    position: () => (lastMs - MSG_ID_EPOCH_MS) * (MAX_SEQUENCE + 1) + sequence,
    next() {
      const now = clock()
      if (now > lastMs) {
        lastMs = now
        sequence = 0
      } else if (sequence < MAX_SEQUENCE) {
        sequence++
      } else {
        lastMs++ // the sequence is full (or the floor is ahead): borrow the next millisecond
        sequence = 0
      }
      if (lastMs - MSG_ID_EPOCH_MS > MAX_TIME || lastMs < MSG_ID_EPOCH_MS) {
        throw new RangeError(
          `msg-id time ${new Date(lastMs).toISOString()} is outside the id's range`,
        )
      }
      if (lastMs >= reservedUntil) {
        reservedUntil = lastMs + reserveStepMs
        reserve(reservedUntil)
      }
      return composeMsgId({ timeMs: lastMs, unit, worker, sequence })
    },
  }
}
