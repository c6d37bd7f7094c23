// Shared timing for the benchmarks: warm up, then time rounds and keep the median, so one
// garbage collection or a busy neighbour does not decide the figure.

export interface Measurement {
  readonly name: string
  /** Operations per second, the median of the rounds. */
  readonly opsPerSec: number
}

export async function measure(
  name: string,
  operation: () => unknown | Promise<unknown>,
  { iterations = 20_000, rounds = 7, warmup = 5_000 } = {},
): Promise<Measurement> {
  for (let i = 0; i < warmup; i++) await operation()
  const rates: number[] = []
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) await operation()
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    rates.push(iterations / seconds)
  }
  rates.sort((a, b) => a - b)
  return { name, opsPerSec: rates[Math.floor(rates.length / 2)] as number }
}

export function formatRate(opsPerSec: number): string {
  return opsPerSec >= 1e6
    ? `${(opsPerSec / 1e6).toFixed(2)}M/s`
    : `${(opsPerSec / 1e3).toFixed(1)}k/s`
}
