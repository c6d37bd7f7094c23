// Retries work that failed with a retriable error (kafkajs and imflow errors carry the flag),
// with exponential backoff, a bounded number of times. Programmer errors fail at once.

export interface RetryOptions {
  retries?: number
  initialDelayMs?: number
  maxDelayMs?: number
}

export function isRetriable(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true
  )
}

export async function retry<T>(work: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { retries = 8, initialDelayMs = 100, maxDelayMs = 2_000 } = options
  for (let attempt = 0; ; attempt++) {
    try {
      return await work()
    } catch (err) {
      if (attempt >= retries || !isRetriable(err)) throw err
      const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** attempt)
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)))
    }
  }
}
