// How far a consumer fetches a partition ahead of its task. A batch handed to a task is taken
// as read, so the consumer may fetch the partition on while the task processes and commits,
// up to `maxBytes` handed over and not done; past that the partition is paused until the task
// is through half of it (as Kafka Streams pauses a partition whose buffered records pass a
// bound). With 0 it is paused from each batch until the task is through it.
//
// Which to use is a trade on a broker-bound machine (docs/runtime.md, "Fetching ahead"): a
// transaction that spans time (a commit interval) takes everything fetched meanwhile, so
// fetching ahead makes fewer, larger transactions; with a transaction per slice it makes more,
// smaller ones, each a round of broker requests, where a paused partition's records gather
// during the commit and the next fetch round and go in one transaction.

/** Four fetches' worth (runner.ts: 256 KiB per partition and fetch). */
export const FETCH_AHEAD_BYTES = 1024 * 1024

/** What is counted of a fetched batch. */
export interface HeldBatch {
  readonly topic: string
  readonly partition: number
  readonly messages: readonly { key?: Buffer | null; value: Buffer | null }[]
}

interface Held {
  bytes: number
  /** Set while the partition is paused for it. */
  resume: (() => void) | undefined
  /**
   * The partition's last batch ended before its end: records wait behind it. Asked only with
   * the short wait while paused off (setShortWaitWhilePaused: the benches' A/B baseline).
   */
  behind: boolean
}

/** Keys and values, and one byte per record: a batch of empty records is not nothing. */
export function batchBytes(batch: Pick<HeldBatch, 'messages'>): number {
  let bytes = 0
  for (const m of batch.messages) bytes += 1 + (m.key?.length ?? 0) + (m.value?.length ?? 0)
  return bytes
}

/** Off: only a paused partition with records behind its batch shortens the wait (benches' A/B). */
let shortWaitWhilePaused = true

export function setShortWaitWhilePaused(on: boolean): void {
  shortWaitWhilePaused = on
}

export class FetchAhead {
  private readonly held = new Map<string, Held>()

  constructor(readonly maxBytes: number) {}

  /**
   * A batch handed to its task: counted against its partition until `release` is called (when
   * the task is done with it), pausing the partition while over the bound.
   */
  hold(
    batch: HeldBatch,
    pause: () => () => void,
    behind = false,
  ): { bytes: number; release: () => void } {
    const key = `${batch.topic}|${batch.partition}`
    const bytes = batchBytes(batch)
    const held = this.held.get(key) ?? { bytes: 0, resume: undefined, behind }
    this.held.set(key, held)
    held.bytes += bytes
    held.behind = behind
    if (held.bytes > this.maxBytes && !held.resume) held.resume = pause()
    let released = false
    const release = () => {
      if (released) return
      released = true
      held.bytes -= bytes
      if (held.resume && held.bytes <= this.maxBytes / 2) {
        const resume = held.resume
        held.resume = undefined
        resume()
      }
      if (held.bytes === 0 && !held.resume && this.held.get(key) === held) this.held.delete(key)
    }
    return { bytes, release }
  }

  /**
   * Whether the consumer should fetch with a short wait (runner.ts): a partition is paused
   * for its task, so it is fetched again soon after it resumes, rather than after a long poll
   * on the others (or kafkajs' sleep of that long when every partition is paused). Records
   * that came meanwhile then wait for their task's commit and one short fetch, not a long one.
   */
  wantsShortFetchWait(): boolean {
    for (const held of this.held.values())
      if (held.resume && (held.behind || shortWaitWhilePaused)) return true
    return false
  }

  /** Bytes handed over and not done, per topic-partition (for tests and metrics). */
  bytes(topic: string, partition: number): number {
    return this.held.get(`${topic}|${partition}`)?.bytes ?? 0
  }
}
