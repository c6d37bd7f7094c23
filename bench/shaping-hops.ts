// Where a message's time goes inside the receiver, for the shaping bench: the topology's
// processor is wrapped so each record's slice start (its prefetch), its own processing and
// its transaction's end of processing (beforeCommit) are noted, per task. With the time it
// was written and the time its receipt was read, a 1:1 message's latency splits into hops:
// waiting to be fetched (the partition is paused while its task works through a transaction),
// behind the records ahead of it in its slice, its own processing, the records after it in
// the transaction, and the commit with the receipt's read.

import type { SendMessage } from '../schemas/types.generated.js'
import type { InputRecord, Processor, TopologyDefinition } from '../topologies/runtime/index.js'
import { nowMs } from './latency.js'

export interface RecordTrace {
  partition: number
  sliceStart: number
  /** Records of its slice processed before it. */
  ahead: number
  processStart: number
  processEnd: number
  /** When its transaction's processing ended (beforeCommit). */
  processed: number
}

/** Notes, by clientMsgId, when each ingest record went through the receiver. */
export class HopTracer {
  readonly traces = new Map<string, RecordTrace>()
  /** Records processed per transaction, per partition. */
  readonly transactionSizes = new Map<number, number[]>()
  /**
   * Per partition: from a transaction's end of processing to the next slice's start (its
   * commit, then the partition resumed and fetched again), with when the slice started.
   */
  readonly between = new Map<number, { at: number; ms: number }[]>()

  constructor(private readonly ingest: string) {}

  wrap(topology: TopologyDefinition): TopologyDefinition {
    return {
      ...topology,
      processor: (context) => this.wrapProcessor(context.partition, topology.processor(context)),
    }
  }

  private wrapProcessor(partition: number, inner: Processor): Processor {
    let slice = { start: 0, done: 0 }
    let open: RecordTrace[] = []
    let ended: number | undefined
    const id = (record: InputRecord) =>
      record.topic === this.ingest ? (record.value as SendMessage).clientMsgId : undefined
    return {
      ...inner,
      prefetch: async (records) => {
        slice = { start: nowMs(), done: 0 }
        if (ended !== undefined) {
          const gaps = this.between.get(partition) ?? []
          gaps.push({ at: slice.start, ms: slice.start - ended })
          this.between.set(partition, gaps)
          ended = undefined
        }
        await inner.prefetch?.(records)
      },
      process: async (record) => {
        const processStart = nowMs()
        await inner.process(record)
        const key = id(record)
        const trace: RecordTrace = {
          partition,
          sliceStart: slice.start,
          ahead: slice.done,
          processStart,
          processEnd: nowMs(),
          processed: Number.NaN,
        }
        slice.done++
        open.push(trace)
        if (key !== undefined) this.traces.set(key, trace)
      },
      beforeCommit: async () => {
        await inner.beforeCommit?.()
        const at = nowMs()
        for (const trace of open) trace.processed = at
        if (open.length > 0) {
          ended = at
          const sizes = this.transactionSizes.get(partition) ?? []
          sizes.push(open.length)
          this.transactionSizes.set(partition, sizes)
        }
        open = []
      },
    }
  }
}

/** A message's latency split into hops (ms), from its write to its receipt's read. */
export interface Hops {
  fetch: number
  ahead: number
  own: number
  after: number
  /** Its transaction's processing ended -> its receipt sent (the transaction's outputs go out). */
  send: number
  /** Receipt sent -> read: the commit, and waiting for transactions open before it (read_committed). */
  commit: number
  recordsAhead: number
}

export function hopsOf(
  trace: RecordTrace,
  writtenAt: number,
  receipt: { at: number; sentAt: number },
): Hops {
  return {
    fetch: trace.sliceStart - writtenAt,
    ahead: trace.processStart - trace.sliceStart,
    own: trace.processEnd - trace.processStart,
    after: trace.processed - trace.processEnd,
    send: receipt.sentAt - trace.processed,
    commit: receipt.at - receipt.sentAt,
    recordsAhead: trace.ahead,
  }
}

export const median = (xs: readonly number[]) => {
  const sorted = [...xs].filter(Number.isFinite).sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/** One line: the median of each hop over the messages given. */
export function hopLine(name: string, hops: readonly Hops[]): string {
  const m = (k: keyof Hops) => median(hops.map((h) => h[k])).toFixed(k === 'recordsAhead' ? 0 : 1)
  return `    ${name.padEnd(30)} fetch ${m('fetch')}  ahead ${m('ahead')} (${m('recordsAhead')} records)  own ${m('own')}  after ${m('after')}  send ${m('send')}  commit+read ${m('commit')} ms (${hops.length})`
}
