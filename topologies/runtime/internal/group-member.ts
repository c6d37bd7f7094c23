// A topology's membership in its consumer group: the consumer, its health for /readyz, the
// assignment handed to the tasks on every join, and a new consumer after a crash kafkajs
// does not recover from — again and again, with backoff, until stop(). A member that has
// not heard from the group for a session (no fetch, no heartbeat: the broker gone, a consumer
// wedged) reports itself not running, though kafkajs never said it crashed.

import type { Consumer, ConsumerRunConfig, GroupDescription } from 'kafkajs'
import type { Logger } from '../../../ops/log.js'
import type { TopologyDefinition } from '../topology.js'
import { TaskCorruptedError } from './commit-outcome.js'
import { TaskOwners } from './task-owners.js'
import type { TaskSet } from './task-set.js'

/** A consumer that crashed for good (kafkajs gives up on non-retriable errors) is started anew. */
const RESTART_DELAY_MS = { first: 200, max: 2_000 }

export class GroupMember {
  private consumer: Consumer
  private stopping = false
  private health: { ok: boolean; detail?: string } = { ok: false, detail: 'joining the group' }
  private restartDelay = RESTART_DELAY_MS.first
  /** When the consumer last fetched or heartbeated: the group still knows it then. */
  private lastContact = Date.now()
  /** Which instance owns which task, from the group's description (for remote reads). */
  readonly owners: TaskOwners
  private reportFailure: (err: Error) => void = () => {}
  /** Resolves with an error if the topology stopped by itself. */
  readonly failed = new Promise<Error>((resolve) => {
    this.reportFailure = resolve
  })

  constructor(
    private readonly topology: TopologyDefinition,
    private readonly newConsumer: () => Consumer,
    private readonly runConfig: ConsumerRunConfig,
    private readonly tasks: TaskSet,
    private readonly log: Logger,
    /** After this long without a fetch or a heartbeat the broker has dropped the member too. */
    private readonly sessionTimeoutMs = 10_000,
  ) {
    this.consumer = newConsumer()
    this.owners = new TaskOwners(
      (): Promise<GroupDescription> => this.consumer.describeGroup(),
      (err) => log.warn('could not describe the group', { error: String(err) }),
    )
  }

  healthy(): { ok: boolean; detail?: string } {
    const silentMs = Date.now() - this.lastContact
    if (this.health.ok && silentMs > this.sessionTimeoutMs)
      return { ok: false, detail: `no fetch or heartbeat for ${Math.round(silentMs / 1000)} s` }
    return this.health
  }

  start(): Promise<void> {
    return this.run(this.consumer)
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.health = { ok: false, detail: 'stopped' }
    await this.consumer.disconnect()
  }

  private async run(c: Consumer): Promise<void> {
    // kafkajs has no revocation callback: the new assignment comes with GROUP_JOIN.
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      if (c !== this.consumer) return
      this.health = { ok: true }
      this.lastContact = Date.now()
      const now = new Set(Object.values(payload.memberAssignment).flat())
      this.tasks.assign(now)
      this.owners.joined(payload.memberId)
      this.log.info('assignment', {
        topology: this.topology.name,
        partitions: [...now].sort((a, b) => a - b),
      })
    })
    const contact = () => {
      if (c === this.consumer) this.lastContact = Date.now()
    }
    // A batch kafkajs filtered to nothing (transaction markers, aborted records) reaches no
    // eachBatch: its task is told, so that its position can pass it.
    c.on(c.events.END_BATCH_PROCESS, ({ payload }) => {
      if (c !== this.consumer || payload.batchSize > 0 || payload.firstOffset === null) return
      this.tasks
        .openTask(payload.partition)
        ?.passFiltered(payload.topic, Number(payload.firstOffset), Number(payload.lastOffset) + 1)
    })
    c.on(c.events.FETCH, contact)
    c.on(c.events.HEARTBEAT, contact)
    c.on(c.events.CRASH, ({ payload }) => {
      if (c !== this.consumer) return
      this.health = { ok: false, detail: `consumer crashed: ${String(payload.error)}` }
      // restart: kafkajs starts it again itself (a retriable error).
      if (!payload.restart) this.restart(payload.error)
    })
    await c.connect()
    await c.subscribe({ topics: this.topology.sources.map((s) => s.topic), fromBeginning: true })
    await c.run(this.runConfig)
  }

  /**
   * The partition's next fetch starts at `offset` (a task rewinds what it did not process).
   * Ignored by a consumer that is not running or does not hold the partition: a new one, or
   * the next owner, starts at the group's committed offset anyway.
   */
  seek(topic: string, partition: number, offset: number): void {
    try {
      this.consumer.seek({ topic, partition, offset: String(offset) })
      this.log.debug('partition read again from its task position', { topic, partition, offset })
    } catch (err) {
      this.log.debug('rewind not taken', { topic, partition, offset, error: String(err) })
    }
  }

  /**
   * A task failed after its batch was handed over (batch-handler.ts; the task opens again). A
   * failure for good (a processor's under the 'fail' policy, a commit of unknown outcome)
   * stops the topology when it asked for that, as a crash kafkajs does not restart would.
   */
  taskFailed(error: Error): void {
    const forGood =
      error instanceof TaskCorruptedError || (error as { retriable?: unknown }).retriable === false
    if (!forGood || this.topology.onProcessingError !== 'fail' || this.stopping) return
    this.health = { ok: false, detail: `failed: ${error.message}` }
    this.reportFailure(error)
  }

  private restart(error: Error): void {
    if (this.stopping) return
    // 'fail': the topology asked to stop rather than go on past a record it cannot process.
    if (this.topology.onProcessingError === 'fail') {
      this.health = { ok: false, detail: `failed: ${error.message}` }
      this.reportFailure(error)
      return
    }
    this.log.warn('the consumer crashed; starting a new one', {
      topology: this.topology.name,
      error: String(error),
      inMs: this.restartDelay,
    })
    setTimeout(async () => {
      if (this.stopping) return
      await this.consumer.disconnect().catch(() => {})
      this.consumer = this.newConsumer()
      try {
        await this.run(this.consumer)
        this.restartDelay = RESTART_DELAY_MS.first
      } catch (err) {
        this.restartDelay = Math.min(RESTART_DELAY_MS.max, this.restartDelay * 2)
        this.restart(err as Error)
      }
    }, this.restartDelay)
  }
}
