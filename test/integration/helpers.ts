import { randomBytes } from 'node:crypto'
import { type Admin, type Kafka, Kafka as KafkaClient, logLevel } from 'kafkajs'
import { inject } from 'vitest'

/** A name no other test file uses, so files can run in parallel on one broker. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

export function testKafka(clientId = unique('test')): Kafka {
  return new KafkaClient({ clientId, brokers: inject('kafkaBrokers'), logLevel: logLevel.NOTHING })
}

export async function withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = testKafka().admin()
  await admin.connect()
  try {
    return await work(admin)
  } finally {
    await admin.disconnect()
  }
}

/** Polls until `check` returns a value (not undefined) or the bounded wait ends. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
  )
}
