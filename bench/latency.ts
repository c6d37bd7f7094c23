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

/** Calls `send(i)` for i = 0..count-1 at `ratePerSec`, each at its own time (no bursts). */
export async function paced(
  count: number,
  ratePerSec: number,
  send: (i: number) => Promise<void>,
): Promise<void> {
  const start = nowMs()
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / ratePerSec - nowMs()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    await send(i)
  }
}
