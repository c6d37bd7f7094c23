// Peak shaving in the receiver (its Admission hook): rate limits per dimension, then the
// lanes. HIGH is admitted at once unless the task is over capacity and its conversation is
// among the hottest (smart throttling, OVERLOAD); LOW is accepted into the durable lane and
// drained with the capacity HIGH leaves, never later than its deadline. Nothing here adds a
// Kafka hop: decisions are in-task, written in the same transaction as the receipt.

import type { Admission, AdmissionDecision, AdmissionRequest } from '../receiver/index.js'
import type { ProcessorContext } from '../runtime/index.js'
import { APPLICATION_HEADER, CLIENT_TYPE_HEADER, type Limits, THROTTLE_REASONS } from './limits.js'
import { LowLane } from './low-lane.js'
import { Overload } from './overload.js'
import { RateLimiter } from './rate-limiter.js'
import { ShapingStats } from './stats.js'

export const SHAPING_STORES = {
  buckets: 'shaping-buckets',
  lowLane: 'shaping-low-lane',
} as const

export interface ShapingOptions {
  /** The limits in force (read per decision, so a change applies at once). */
  limits: () => Limits
  /** 0: the capacity is the configured budget; otherwise steered to this ingest latency (ms). */
  targetLatencyMs: number
  /** Groups with more members than this are throttled first under overload. */
  largeGroupMembers: number
  /** Most LOW messages a task keeps waiting; past it LOW is throttled (OVERLOAD). */
  lowQueueMax: number
  stats?: ShapingStats
  clock?: () => number
  sketchSize?: number
  halfLifeMs?: number
}

/** How often the LOW lane is drained. */
export const DRAIN_EVERY_MS = 100
/** Most LOW messages delivered in one drain (one transaction). */
const DRAIN_MAX = 500
/** How long an OVERLOAD throttle asks to wait: about one half-life of the load estimate. */
const OVERLOAD_RETRY_MS = 1_000

/** A deadline-bound message is drained this long before its deadline, capacity or not. */
export function drainMargin(deadlineMs: number): number {
  return Math.min(5_000, Math.max(2 * DRAIN_EVERY_MS, deadlineMs * 0.2))
}

function header(headers: AdmissionRequest['headers'], name: string): string | undefined {
  const value = headers[name]
  const first = Array.isArray(value) ? value[0] : value
  return first === undefined ? undefined : first.toString()
}

export function shaping(options: ShapingOptions): Admission {
  const clock = options.clock ?? Date.now
  const stats = options.stats ?? new ShapingStats()
  return {
    stores: Object.values(SHAPING_STORES),
    open(context: ProcessorContext, deliver) {
      const limiter = new RateLimiter(context.store(SHAPING_STORES.buckets))
      const lane = new LowLane(context.store(SHAPING_STORES.lowLane))
      const overload = new Overload(
        {
          max: options.limits().capacity,
          targetLatencyMs: options.targetLatencyMs,
          sketchSize: options.sketchSize ?? 64,
          halfLifeMs: options.halfLifeMs ?? 1_000,
          largeGroupMembers: options.largeGroupMembers,
        },
        clock(),
      )
      const refuse = (reason: AdmissionDecision & { admit: false }): AdmissionDecision => {
        stats.refused(reason.reason)
        return reason
      }

      let drainedAt = Number.NEGATIVE_INFINITY
      // Drained between records (stream time moves while a flood is processed, and a busy
      // task's wall-clock punctuation waits for its batch) and when idle (wall clock).
      const drain = async () => {
        const now = clock()
        if (now - drainedAt < DRAIN_EVERY_MS) return
        drainedAt = now
        const limits = options.limits()
        overload.setMax(limits.capacity)
        overload.advance(now)
        const dueBy = now - limits.lowDeadlineMs + drainMargin(limits.lowDeadlineMs)
        const spare = overload.drainBudget()
        // The count is one cached read; the lane is scanned only when something waits.
        const waiting = await lane.size()
        const taken = waiting > 0 ? await lane.take(spare, dueBy, DRAIN_MAX) : []
        for (const queued of taken) await deliver(queued.payload)
        overload.spend(taken.length)
        stats.delivered(taken.length, Math.max(0, taken.length - spare))
        const queued = waiting - taken.length
        const oldestAt = queued > 0 ? await lane.oldest() : undefined
        stats.lane(context.taskId, { queued, oldestAt, capacity: overload.capacity() }, now)
      }
      context.schedule(DRAIN_EVERY_MS, 'wall-clock', drain)
      context.schedule(DRAIN_EVERY_MS, 'stream-time', drain)

      return {
        async admit({ message, headers, timestamp, memberCount }) {
          const now = clock()
          const limits = options.limits()
          overload.setMax(limits.capacity)
          overload.advance(now)
          const limited = await limiter.check(
            [
              ['conversation', message.conversationId],
              ['user', message.senderId],
              ['clientType', header(headers, CLIENT_TYPE_HEADER)],
              ['application', header(headers, APPLICATION_HEADER)],
            ],
            limits,
            now,
          )
          if (!limited.ok) {
            return refuse({
              admit: false,
              reason: THROTTLE_REASONS[limited.dimension],
              retryAfterMs: limited.retryAfterMs,
            })
          }
          if (message.priority === 'LOW') {
            if ((await lane.size()) >= options.lowQueueMax)
              return refuse({ admit: false, reason: 'OVERLOAD', retryAfterMs: OVERLOAD_RETRY_MS })
            stats.admitted('LOW')
            return { admit: true, later: true }
          }
          const large = memberCount > options.largeGroupMembers
          overload.offer(message.conversationId, large, Math.max(0, now - timestamp))
          if (overload.overloaded() && overload.throttles(message.conversationId, large)) {
            overload.refusedHigh()
            return refuse({ admit: false, reason: 'OVERLOAD', retryAfterMs: OVERLOAD_RETRY_MS })
          }
          overload.spend(1)
          stats.admitted('HIGH')
          return { admit: true }
        },
        defer: (id, stored) => lane.enqueue(id, stored, clock()),
      }
    },
  }
}
