// Latency measurement at a fixed load: paced sends, then percentiles of what was observed.

export interface Percentiles {
  count: number
  p50: number
  p99: number
}

export function percentiles(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  return { count: sorted.length, p50: at(0.5), p99: at(0.99) }
}

/** Milliseconds on a clock shared by sender and receiver in this process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

/**
 * Calls `send(i)` for i = 0..count-1 at `ratePerSec`, each at its own time (no bursts). With
 * `inFlight` above 1 a send does not wait for the one before it (at most that many unanswered),
 * so the rate is not capped by a send's round trip.
 */
export async function paced(
  count: number,
  ratePerSec: number,
  send: (i: number) => Promise<void>,
  inFlight = 1,
): Promise<void> {
  const start = nowMs()
  const pending = new Set<Promise<void>>()
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / ratePerSec - nowMs()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    while (pending.size >= inFlight) await Promise.race(pending)
    const sent = send(i).finally(() => pending.delete(sent))
    pending.add(sent)
  }
  await Promise.all(pending)
}
