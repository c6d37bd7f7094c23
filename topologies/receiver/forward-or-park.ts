// Forwarding to another deployment's topic (another geo's inbound, another unit's ingest)
// must not depend on that deployment being there: a record for a target that is down (its
// topic missing, as when two geos name each other's app id wrongly) is parked in a store of
// the task, in the task's transaction, and sent on, in order, once the target is back. The
// task keeps going for everything else: one missing topic never fails the transaction, so
// the partition neither stalls nor crash-loops and nothing is dropped.

import type { OutputRecord, ProcessorContext } from '../runtime/index.js'

/** Whether other deployments' topics can be written now; the composition root watches them. */
export interface RemoteTargets {
  /** False while the topic is known to be missing (checked at start and then periodically). */
  isUp(topic: string): boolean
  /** Counts records parked for a target that is down, and records later sent on. */
  parked(topic: string, n: number): void
  unparked(topic: string, n: number): void
}

/** Every target up, nothing counted: tests and deployments without remote targets. */
export const alwaysUp: RemoteTargets = {
  isUp: () => true,
  parked: () => {},
  unparked: () => {},
}

/** The receiver's store of parked records: sink, 0, 8-byte sequence -> the record. */
export const PARKED_STORE = 'forward-parked'

/** How often a task looks for targets that came back, and how many records it sends each time. */
export const UNPARK_EVERY_MS = 1_000
const UNPARK_BATCH = 1_000

interface ParkedRecord {
  key: string | null
  value: string | null
  partition?: number
  headers: Record<string, string>
}

const b64 = (v: Buffer | string) => (Buffer.isBuffer(v) ? v : Buffer.from(v)).toString('base64')
const unb64 = (v: string) => Buffer.from(v, 'base64')

function encode(record: OutputRecord): Buffer {
  const parked: ParkedRecord = {
    key: record.key === null ? null : b64(record.key),
    value: record.value === null ? null : b64(record.value),
    headers: Object.fromEntries(Object.entries(record.headers ?? {}).map(([k, v]) => [k, b64(v)])),
    ...(record.partition !== undefined ? { partition: record.partition } : {}),
  }
  return Buffer.from(JSON.stringify(parked))
}

function decode(bytes: Buffer): OutputRecord {
  const p = JSON.parse(bytes.toString()) as ParkedRecord
  return {
    key: p.key === null ? null : unb64(p.key),
    value: p.value === null ? null : unb64(p.value),
    headers: Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k, unb64(v)])),
    ...(p.partition !== undefined ? { partition: p.partition } : {}),
  }
}

const sinkPrefix = (sink: string) => Buffer.concat([Buffer.from(sink), Buffer.from([0])])

function parkedKey(sink: string, seq: number): Buffer {
  const n = Buffer.alloc(8)
  n.writeBigUInt64BE(BigInt(seq))
  return Buffer.concat([sinkPrefix(sink), n])
}

/**
 * Sends to remote sinks (name -> topic) through the park when their target is down. A sink
 * with records parked keeps parking until they are sent on, so its records stay in order.
 */
export function forwarder(
  context: ProcessorContext,
  sinks: Readonly<Record<string, { topic: string }>>,
  targets: RemoteTargets,
) {
  const store = context.store(PARKED_STORE)
  // What is parked, per sink, and the next sequence: read once from the store, and again after
  // a rolled-back transaction (whose parked records are gone with it).
  let state: { waiting: Map<string, number>; next: number } | undefined
  store.onRollback(() => {
    state = undefined
  })
  const load = async () => {
    if (state) return state
    const loaded = { waiting: new Map<string, number>(), next: 0 }
    for await (const [key] of store.range()) {
      const sink = key.subarray(0, key.length - 9).toString()
      loaded.waiting.set(sink, (loaded.waiting.get(sink) ?? 0) + 1)
      loaded.next = Math.max(loaded.next, Number(key.readBigUInt64BE(key.length - 8)) + 1)
    }
    state = loaded
    return loaded
  }
  const topicOf = (sink: string) => sinks[sink]?.topic ?? sink

  return {
    async send(sink: string, record: OutputRecord): Promise<void> {
      const s = await load()
      const waiting = s.waiting.get(sink) ?? 0
      if (waiting === 0 && targets.isUp(topicOf(sink))) return context.send(sink, record)
      store.put(parkedKey(sink, s.next++), encode(record))
      s.waiting.set(sink, waiting + 1)
      targets.parked(topicOf(sink), 1)
    },

    /** Sends on what waits for targets that are up again, oldest first, a bounded batch a sink. */
    async unpark(): Promise<void> {
      const s = await load()
      for (const [sink, waiting] of s.waiting) {
        if (waiting === 0 || !targets.isUp(topicOf(sink))) continue
        let sent = 0
        for await (const [key, value] of store.prefix(sinkPrefix(sink))) {
          context.send(sink, decode(value))
          store.delete(key)
          if (++sent === UNPARK_BATCH) break
        }
        s.waiting.set(sink, waiting - sent)
        targets.unparked(topicOf(sink), sent)
      }
    },
  }
}

export type Forwarder = ReturnType<typeof forwarder>
