// Runs a topology in-process on an in-memory log, for fast processor-level tests: pipe
// records in, read what each sink received. The same TaskCore as on Kafka; stores are in
// memory; every piped record commits on its own.

import { ImflowError } from '../../ops/errors.js'
import { type Logger, silentLogger } from '../../ops/log.js'
import { ChangeloggedStore, MemoryStore } from '../../state/index.js'
import type { DeadLetterEncoder } from './dead-letters.js'
import type { OutRecord } from './internal/kafka-io.js'
import { type ConsumedMessage, TaskCore } from './internal/task-core.js'
import type { TopologyDefinition } from './topology.js'

export interface PipedRecord {
  key: Buffer | string | null
  value: Buffer | string | null
  /** Event time, ms. */
  timestamp: number
  partition?: number
  headers?: Record<string, Buffer | string>
}

export class TopologyTestDriver {
  private readonly tasks = new Map<
    number,
    { core: TaskCore; stores: Map<string, ChangeloggedStore>; raw: MemoryStore[] }
  >()
  private readonly outputs = new Map<string, OutRecord[]>()
  private readonly offsets = new Map<string, number>()
  private wallClock = 0

  constructor(
    private readonly topology: TopologyDefinition,
    private readonly options: {
      appId?: string
      deadLetters?: DeadLetterEncoder
      /** The sources' partition count: with it, misplaced records are re-routed as on Kafka. */
      partitions?: number
      /** The tasks' logger (default: silent). */
      log?: Logger
    } = {},
  ) {}

  private task(partition: number) {
    let task = this.tasks.get(partition)
    if (!task) {
      const raw = (this.topology.stores ?? []).map(() => new MemoryStore())
      const stores = new Map(
        (this.topology.stores ?? []).map((name, i) => [
          name,
          new ChangeloggedStore(name, raw[i] as MemoryStore),
        ]),
      )
      const core = new TaskCore({
        appId: this.options.appId ?? 'test',
        topology: this.topology,
        partition,
        stores,
        deadLetters: this.options.deadLetters,
        partitions: this.options.partitions,
        log: this.options.log ?? silentLogger,
        clock: () => this.wallClock,
      })
      task = { core, stores, raw }
      this.tasks.set(partition, task)
    }
    return task
  }

  async pipe(topic: string, record: PipedRecord): Promise<void> {
    const { core } = this.task(record.partition ?? 0)
    await core.process(topic, this.consumed(topic, record))
    await this.commit(core)
  }

  /**
   * Pipes records of one partition as one slice, as a task on Kafka does: the processor's
   * prefetch first, then each record, then one commit. Answers how many reads reached the
   * stores' bottom layer in each step.
   */
  async pipeSlice(
    topic: string,
    records: readonly PipedRecord[],
  ): Promise<{ prefetchReads: number; processReads: number }> {
    const task = this.task(records[0]?.partition ?? 0)
    const reads = () => task.raw.reduce((sum, store) => sum + store.reads, 0)
    const messages = records.map((record) => this.consumed(topic, record))
    const before = reads()
    await task.core.prefetch(topic, messages)
    const prefetched = reads()
    for (const message of messages) await task.core.process(topic, message)
    const processed = reads()
    await this.commit(task.core)
    return { prefetchReads: prefetched - before, processReads: processed - prefetched }
  }

  private consumed(topic: string, record: PipedRecord): ConsumedMessage {
    const offsetKey = `${topic}:${record.partition ?? 0}`
    const offset = this.offsets.get(offsetKey) ?? 0
    this.offsets.set(offsetKey, offset + 1)
    const bytes = (v: Buffer | string | null) => (typeof v === 'string' ? Buffer.from(v) : v)
    return {
      offset: String(offset),
      timestamp: String(record.timestamp),
      key: bytes(record.key),
      value: bytes(record.value),
      headers: record.headers ?? {},
    }
  }

  /** Moves the wall clock on and runs the wall-clock punctuators that are due. */
  async advanceWallClock(ms: number): Promise<void> {
    this.wallClock += ms
    for (const { core } of this.tasks.values()) {
      await core.punctuate('wall-clock', this.wallClock)
      await this.commit(core)
    }
  }

  private async commit(core: TaskCore): Promise<void> {
    await core.beforeCommit()
    for (const record of core.takeRecords(true)) {
      const list = this.outputs.get(record.topic) ?? []
      list.push(record)
      this.outputs.set(record.topic, list)
    }
    await core.commit()
  }

  /** Takes the records written to a topic since the last read (changelogs included). */
  read(topic: string): OutRecord[] {
    const records = this.outputs.get(topic) ?? []
    this.outputs.set(topic, [])
    return records
  }

  store(name: string, partition = 0): ChangeloggedStore {
    const store = this.task(partition).stores.get(name)
    if (!store)
      throw new ImflowError(
        'IMF_ERR_TOPOLOGY',
        `topology ${this.topology.name} declares no store ${name}`,
      )
    return store
  }
}
