// How many messages a second a receiver task delivers: the configured budget, or, with a
// latency target, an adaptive one (additive increase, multiplicative decrease, like TCP's
// congestion window) steered by the observed ingest latency — how long HIGH messages waited
// on im.ingest before the receiver took them, i.e. its lag in time.

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

/** The next capacity, from the latency observed over the last period (undefined: no traffic). */
export function adaptCapacity(
  current: number,
  observedLatencyMs: number | undefined,
  settings: CapacitySettings,
): number {
  if (settings.targetLatencyMs <= 0) return settings.max
  const floor = Math.max(1, settings.max * MIN_SHARE)
  if (observedLatencyMs === undefined) return Math.min(settings.max, Math.max(floor, current))
  if (observedLatencyMs > settings.targetLatencyMs) return Math.max(floor, current * DECREASE)
  if (observedLatencyMs < settings.targetLatencyMs / 2)
    return Math.min(settings.max, current + settings.max * INCREASE_SHARE)
  return Math.min(settings.max, Math.max(floor, current))
}
