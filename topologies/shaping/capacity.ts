// How many messages a second a receiver task delivers: the configured budget, or, with a
// latency target, an adaptive one (additive increase, multiplicative decrease, like TCP's
// congestion window) steered by the observed ingest latency — how long HIGH messages waited
// on im.ingest before the receiver took them, i.e. its lag in time. That lag is a wall-clock
// measure (now minus the record's time): the adaptation runs on the wall clock, and a lag that
// falls is a task catching up on a backlog, not an overloaded one, so it is not cut for it.

export interface CapacitySettings {
  /** The configured budget, messages/s per task; the adaptive capacity never exceeds it. */
  max: number
  /** 0: fixed at `max`. Otherwise the ingest latency (ms) the capacity is steered to. */
  targetLatencyMs: number
}

/** The adaptive capacity never drops below this share of the budget. */
export const MIN_SHARE = 0.05
const DECREASE = 0.7
const INCREASE_SHARE = 0.05

/**
 * The next capacity, from the latency observed over the last period (undefined: no traffic).
 * Above the target it is cut, unless the task is `catchingUp` (its lag fell: it works through
 * a backlog — after a restart, a crash, a stall — faster than it comes): cutting then would
 * throttle messages sent long ago at normal rates for the backlog's density in processing
 * time. It holds until the lag stops falling.
 */
export function adaptCapacity(
  current: number,
  observedLatencyMs: number | undefined,
  settings: CapacitySettings,
  catchingUp = false,
): number {
  if (settings.targetLatencyMs <= 0) return settings.max
  const floor = Math.max(1, settings.max * MIN_SHARE)
  const held = Math.min(settings.max, Math.max(floor, current))
  if (observedLatencyMs === undefined) return held
  if (observedLatencyMs > settings.targetLatencyMs)
    return catchingUp ? held : Math.max(floor, current * DECREASE)
  if (observedLatencyMs < settings.targetLatencyMs / 2)
    return Math.min(settings.max, current + settings.max * INCREASE_SHARE)
  return held
}
