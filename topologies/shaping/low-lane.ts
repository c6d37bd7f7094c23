// The LOW lane: accepted LOW messages wait in a state store (changelogged, so a SIGKILL loses
// none and the exactly-once commit that takes one out also writes its delivery), oldest
// first. Ordered by acceptance time, then id: FIFO within a task, hence per conversation.

import type { ReadWriteStore } from '../../state/index.js'

const QUEUED = Buffer.from('q')
const COUNT = Buffer.from('n')

export interface Queued {
  id: string
  /** When it was queued (ms): its deadline runs from here. */
  at: number
  payload: Buffer
}

function queueKey(at: number, id: string): Buffer {
  const time = Buffer.alloc(8)
  time.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(at))))
  return Buffer.concat([QUEUED, time, Buffer.from(id)])
}

function parseKey(key: Buffer): { at: number; id: string } {
  return { at: Number(key.readBigUInt64BE(1)), id: key.subarray(9).toString() }
}

export class LowLane {
  constructor(private readonly store: ReadWriteStore) {}

  async enqueue(id: string, payload: Buffer, at: number): Promise<void> {
    this.store.put(queueKey(at, id), payload)
    await this.setSize((await this.size()) + 1)
  }

  /** Messages waiting (a counter kept in the same store, so it commits with them). */
  async size(): Promise<number> {
    const bytes = await this.store.get(COUNT)
    return bytes ? Number(bytes.readBigUInt64BE(0)) : 0
  }

  /** When the oldest waiting message was queued. */
  async oldest(): Promise<number | undefined> {
    for await (const [key] of this.store.prefix(QUEUED)) return parseKey(key).at
    return undefined
  }

  /**
   * Takes messages out, oldest first: up to `budget` of them, and besides every one queued
   * at or before `dueBy` (its deadline is near, capacity or not). At most `max` at once.
   */
  async take(budget: number, dueBy: number, max: number): Promise<Queued[]> {
    const taken: Queued[] = []
    for await (const [key, payload] of this.store.prefix(QUEUED)) {
      if (taken.length >= max) break
      const { at, id } = parseKey(key)
      if (taken.length >= budget && at > dueBy) break
      taken.push({ id, at, payload })
      this.store.delete(key)
    }
    if (taken.length > 0) await this.setSize(Math.max(0, (await this.size()) - taken.length))
    return taken
  }

  private async setSize(n: number): Promise<void> {
    const bytes = Buffer.alloc(8)
    bytes.writeBigUInt64BE(BigInt(n))
    this.store.put(COUNT, bytes)
  }
}
