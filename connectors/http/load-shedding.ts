// Load shedding before collapse: when the process cannot keep up — more requests in flight
// than it may hold, or its event loop stalled for longer than allowed — new requests are
// answered at once with 503 IMF_ERR_OVERLOADED and Retry-After, instead of queueing until
// they time out; /readyz says so (the `load` check), so a balancer sends traffic elsewhere.
// Health, metrics and the dashboard are never shed: they are how an operator sees it.

import type { FastifyInstance } from 'fastify'
import { ImflowError } from '../../ops/errors.js'
import type { ProbeResult } from '../../ops/health.js'

export interface LoadLimits {
  /** Requests in flight at most (0: no bound). */
  maxInFlight: number
  /** The longest event-loop stall tolerated over the last few seconds, in ms (0: no bound). */
  maxEventLoopLagMs: number
}

/** How often the loop's stalls are measured, and over how many ticks the worst one counts. */
const TICK_MS = 100
const WINDOW_TICKS = 20
const RETRY_AFTER_MS = 1_000
const NEVER_SHED = /^\/(healthz|readyz|metrics|dashboard)(\/|\?|$)/

/** Measures event-loop stalls (a timer's lateness) and counts requests in flight. */
export class LoadMonitor {
  private inFlight = 0
  private readonly lags: number[] = []
  private timer: NodeJS.Timeout | undefined
  private expected = 0

  constructor(
    readonly limits: LoadLimits,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  start(): void {
    if (this.timer || this.limits.maxEventLoopLagMs <= 0) return
    this.expected = this.clock() + TICK_MS
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** One timer tick: how late it fired is how long the loop was busy. */
  tick(): void {
    const now = this.clock()
    this.lags.push(Math.max(0, now - this.expected))
    if (this.lags.length > WINDOW_TICKS) this.lags.shift()
    this.expected = now + TICK_MS
  }

  /** The worst stall of the window, ms. */
  lagMs(): number {
    return this.lags.length ? Math.max(...this.lags) : 0
  }

  enter(): void {
    this.inFlight++
  }

  leave(): void {
    this.inFlight = Math.max(0, this.inFlight - 1)
  }

  /** Why new work is refused now; undefined while the process keeps up. */
  overloaded(): string | undefined {
    const { maxInFlight, maxEventLoopLagMs } = this.limits
    if (maxInFlight > 0 && this.inFlight >= maxInFlight)
      return `${this.inFlight} requests in flight (IMFLOW_MAX_IN_FLIGHT=${maxInFlight})`
    const lag = this.lagMs()
    if (maxEventLoopLagMs > 0 && lag > maxEventLoopLagMs)
      return `the event loop stalled for ${Math.round(lag)} ms (IMFLOW_MAX_EVENT_LOOP_LAG_MS=${maxEventLoopLagMs})`
    return undefined
  }

  /** For /readyz. */
  probe = async (): Promise<ProbeResult> => {
    const why = this.overloaded()
    return why ? { ok: false, detail: `shedding load: ${why}` } : { ok: true }
  }
}

/** On the root instance (not a plugin: its hooks must see every route, the gateway's too). */
export function installLoadShedding(app: FastifyInstance, monitor: LoadMonitor): void {
  monitor.start()
  app.addHook('onClose', async () => monitor.stop())
  app.addHook('onRequest', async (request, reply) => {
    if (NEVER_SHED.test(request.url)) return
    const why = monitor.overloaded()
    if (why) {
      throw new ImflowError('IMF_ERR_OVERLOADED', `imflow cannot keep up: ${why}; retry later`, {
        details: { retryAfterMs: RETRY_AFTER_MS },
      })
    }
    // A WebSocket lives on after its upgrade: it is not a request in flight.
    if (request.headers.upgrade) return
    monitor.enter()
    reply.raw.once('close', () => monitor.leave())
  })
}
