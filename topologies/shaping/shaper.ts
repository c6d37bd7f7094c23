// Peak shaving in the receiver (its Admission hook): rate limits per dimension, then the
// lanes. HIGH is admitted at once unless the task is over capacity and its conversation is
// among the hottest (smart throttling, OVERLOAD); LOW is accepted into the durable lane and
// drained with the capacity HIGH leaves, never later than its deadline. Nothing here adds a
// Kafka hop: decisions are in-task, written in the same transaction as the receipt.

import type { ThrottleReason } from '../../schemas/types.generated.js'
import { jsonSerde, type KeyValueStore, stringSerde, typedStore } from '../../state/index.js'
import type {
  Admission,
  AdmissionDecision,
  AdmissionGate,
  AdmissionRequest,
} from '../receiver/index.js'
import type { ProcessorContext } from '../runtime/index.js'
import { DeliveryBudget } from './delivery-budget.js'
import { DRAIN_EVERY_MS, DrainPace, drainMargin } from './drain-pace.js'
import { APPLICATION_HEADER, CLIENT_TYPE_HEADER, type Limits, THROTTLE_REASONS } from './limits.js'
import { LowLane } from './low-lane.js'
import { type LoadState, Overload } from './overload.js'
import { type DimensionKey, RateLimiter } from './rate-limiter.js'
import { ShapingStats } from './stats.js'
import { StreamTime } from './stream-time.js'

export const SHAPING_STORES = {
  buckets: 'shaping-buckets',
  lowLane: 'shaping-low-lane',
  /** The overload view (capacity bucket and sketch), so a restart goes on where it was. */
  load: 'shaping-load',
} as const
const LOAD_KEY = 'view'

export interface ShapingOptions {
  /** The limits in force (read per decision, so a change applies at once). */
  limits: () => Limits
  /** 0: the capacity is the configured budget; otherwise steered to this ingest latency (ms). */
  targetLatencyMs: number
  /** Groups with more members than this are throttled first under overload. */
  largeGroupMembers: number
  /** Most LOW messages a task keeps waiting; past it LOW is throttled (OVERLOAD). */
  lowQueueMax: number
  /**
   * LOW's deadline runs from its acceptance time and its drain margin adapts to the gaps seen
   * between drains (drain-pace.ts); false: from when the task queued it, with the fixed
   * margin (the behaviour before, kept for the bench's A/B comparison). Default true.
   */
  adaptiveDrain?: boolean
  stats?: ShapingStats
  clock?: () => number
  sketchSize?: number
  halfLifeMs?: number
}

/** Most LOW messages delivered in one drain (one transaction). */
const DRAIN_MAX = 500
/** How long an OVERLOAD throttle asks to wait: about one half-life of the load estimate. */
const OVERLOAD_RETRY_MS = 1_000

function header(headers: AdmissionRequest['headers'], name: string): string | undefined {
  const value = headers[name]
  const first = Array.isArray(value) ? value[0] : value
  return first === undefined ? undefined : first.toString()
}

/** The keys a message is limited by, per dimension. */
function dimensionKeys({
  message,
  headers,
}: Pick<AdmissionRequest, 'message' | 'headers'>): DimensionKey[] {
  return [
    ['conversation', message.conversationId],
    ['user', message.senderId],
    ['clientType', header(headers, CLIENT_TYPE_HEADER)],
    ['application', header(headers, APPLICATION_HEADER)],
  ]
}

/**
 * One receiver task's shaping: its buckets, LOW lane and load view. Rate limits and overload
 * decide by event time (StreamTime: the records' time, capped by the clock, never back); the
 * LOW lane's deadline and drains, and the adaptive capacity, by the wall clock.
 */
class TaskShaper implements AdmissionGate {
  private readonly limiter: RateLimiter
  private readonly lane: LowLane
  private readonly overload: Overload
  private readonly delivery = new DeliveryBudget()
  private readonly pace = new DrainPace()
  private readonly time: StreamTime
  private readonly load: KeyValueStore<string, LoadState>
  /** The overload view was read back from its store (again after a rolled-back transaction). */
  private loaded = false
  private drainedAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly options: ShapingOptions,
    private readonly context: ProcessorContext,
    private readonly deliver: (stored: Buffer) => Promise<void>,
    private readonly clock: () => number,
    private readonly stats: ShapingStats,
  ) {
    this.limiter = new RateLimiter(context.store(SHAPING_STORES.buckets))
    this.lane = new LowLane(context.store(SHAPING_STORES.lowLane))
    this.time = new StreamTime(clock)
    const load = context.store(SHAPING_STORES.load)
    this.load = typedStore(load, stringSerde, jsonSerde<LoadState>())
    load.onRollback(() => {
      this.loaded = false
    })
    // Its event time starts at the first record's.
    this.overload = new Overload({
      max: options.limits().capacity,
      targetLatencyMs: options.targetLatencyMs,
      sketchSize: options.sketchSize ?? 64,
      halfLifeMs: options.halfLifeMs ?? 1_000,
      largeGroupMembers: options.largeGroupMembers,
    })
  }

  /**
   * The limits in force, with the load view brought up to the event time `now` (none before
   * the first record) and the adaptive capacity and delivery budget to the wall clock.
   */
  private current(now: number | undefined, wallNow: number): Limits {
    const limits = this.options.limits()
    this.overload.setMax(limits.capacity)
    if (now !== undefined) this.overload.advance(now, wallNow)
    this.delivery.advance(wallNow, this.overload.capacity())
    return limits
  }

  private refuse(reason: ThrottleReason, retryAfterMs: number): AdmissionDecision {
    this.stats.refused(reason)
    return { admit: false, reason, retryAfterMs }
  }

  prefetch(requests: readonly Pick<AdmissionRequest, 'message' | 'headers'>[]): Promise<void> {
    return this.limiter.prefetch(requests.flatMap(dimensionKeys), this.options.limits())
  }

  async admit(request: AdmissionRequest): Promise<AdmissionDecision> {
    if (!this.loaded) {
      // The view and the stream time it was brought up to, as the last commit left them.
      const saved = await this.load.get(LOAD_KEY)
      this.overload.restore(saved)
      this.time.reset(saved?.at)
      this.loaded = true
    }
    const decision = await this.decide(request)
    // Kept with the decision's transaction (the store's cache holds the latest: one changelog
    // write per transaction), so a restarted task decides as an unbroken run would.
    const state = this.overload.state()
    if (state) this.load.put(LOAD_KEY, state)
    return decision
  }

  private async decide({
    message,
    headers,
    timestamp,
    memberCount,
  }: AdmissionRequest): Promise<AdmissionDecision> {
    const wallNow = this.clock()
    const now = this.time.observe(timestamp)
    const limits = this.current(now, wallNow)
    const limited = await this.limiter.check(dimensionKeys({ message, headers }), limits, now)
    if (!limited.ok) return this.refuse(THROTTLE_REASONS[limited.dimension], limited.retryAfterMs)
    if (message.priority === 'LOW') {
      if ((await this.lane.size()) >= this.options.lowQueueMax)
        return this.refuse('OVERLOAD', OVERLOAD_RETRY_MS)
      this.stats.admitted('LOW')
      return { admit: true, later: true }
    }
    const large = memberCount > this.options.largeGroupMembers
    // Its lag in real time, for the adaptive capacity (the one wall-clock measure here).
    this.overload.offer(message.conversationId, large, Math.max(0, wallNow - timestamp))
    if (this.overload.overloaded() && this.overload.throttles(message.conversationId, large)) {
      this.delivery.refusedHigh()
      return this.refuse('OVERLOAD', OVERLOAD_RETRY_MS)
    }
    this.overload.spend(1)
    this.delivery.spend(1)
    this.stats.admitted('HIGH')
    return { admit: true }
  }

  /**
   * Its deadline runs from its acceptance time (its msgId's, what its receipt says), not from
   * when this task got to it: time it waited on im.ingest counts. That time never goes back
   * within a task, so the lane stays FIFO.
   */
  defer(id: string, stored: Buffer, acceptedAt: number): Promise<void> {
    const now = this.clock()
    const at = this.options.adaptiveDrain === false ? now : Math.min(acceptedAt, now)
    return this.lane.enqueue(id, stored, at)
  }

  /**
   * Delivers LOW with the capacity HIGH left, and whatever is near its deadline: on the wall
   * clock (the deadline is a promise in real time), from the delivery budget, never touching
   * the event-time view HIGH is decided by.
   */
  async drain(): Promise<void> {
    const now = this.clock()
    this.pace.observe(now)
    if (now - this.drainedAt < DRAIN_EVERY_MS) return
    this.drainedAt = now
    const limits = this.current(this.time.current(), now)
    const deadline = limits.lowDeadlineMs
    const margin =
      this.options.adaptiveDrain === false ? drainMargin(deadline) : this.pace.margin(deadline)
    const dueBy = now - deadline + margin
    const spare = this.delivery.spare()
    // The count is one cached read; the lane is scanned only when something waits.
    const waiting = await this.lane.size()
    const taken = waiting > 0 ? await this.lane.take(spare, dueBy, DRAIN_MAX) : []
    for (const queued of taken) await this.deliver(queued.payload)
    this.delivery.spend(taken.length)
    this.stats.delivered(taken.length, Math.max(0, taken.length - spare))
    const queued = waiting - taken.length
    const oldestAt = queued > 0 ? await this.lane.oldest() : undefined
    this.stats.lane(
      this.context.taskId,
      { queued, oldestAt, capacity: this.overload.capacity() },
      now,
    )
  }
}

export function shaping(options: ShapingOptions): Admission {
  const clock = options.clock ?? Date.now
  const stats = options.stats ?? new ShapingStats()
  return {
    stores: Object.values(SHAPING_STORES),
    open(context, deliver) {
      const shaper = new TaskShaper(options, context, deliver, clock, stats)
      // Drained between records (stream time moves while a flood is processed, and a busy
      // task's wall-clock punctuation waits for its batch) and when idle (wall clock).
      context.schedule(DRAIN_EVERY_MS, 'wall-clock', () => shaper.drain())
      context.schedule(DRAIN_EVERY_MS, 'stream-time', () => shaper.drain())
      return shaper
    },
  }
}
