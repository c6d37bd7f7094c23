// The limits in force, shared by every instance: the latest document on a compacted,
// one-partition topic (<app>-limits, key "limits", JSON). Each instance keeps it in a global
// table, so every task reads the current limits locally and a PUT takes effect everywhere
// within a poll. Until a document is written, the configured defaults apply.

import type { Kafka, Producer } from 'kafkajs'
import { ImflowError } from '../../ops/errors.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { GlobalTable } from '../runtime/index.js'
import { type Limits, limitsProblems } from './limits.js'

const KEY = 'limits'
/** How long replace() waits to read its own write back. */
const READ_BACK_MS = 10_000

function decode(bytes: Buffer): Limits {
  const value = JSON.parse(bytes.toString()) as unknown
  const problems = limitsProblems(value)
  // The global table skips what it cannot decode: a bad document leaves the last good one.
  if (problems.length > 0) throw new ImflowError('IMF_ERR_DECODE', problems.join('; '))
  return value as Limits
}

export class LimitsTable {
  private constructor(
    private readonly table: GlobalTable<Limits>,
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly defaults: Limits,
  ) {}

  static async start(
    kafka: Kafka,
    topic: string,
    defaults: Limits,
    replicationFactor?: number,
  ): Promise<LimitsTable> {
    const admin = kafka.admin()
    await admin.connect()
    try {
      if (!(await admin.listTopics()).includes(topic)) {
        await createTopicsAndWait(admin, [
          {
            topic,
            numPartitions: 1,
            ...(replicationFactor === undefined ? {} : { replicationFactor }),
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ])
      }
    } catch (err) {
      // Another instance created it at the same moment: fine.
      if (!(await admin.listTopics()).includes(topic)) throw err
    } finally {
      await admin.disconnect()
    }
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      const table = await GlobalTable.start(kafka, topic, decode, () => KEY)
      return new LimitsTable(table, producer, topic, defaults)
    } catch (err) {
      await producer.disconnect()
      throw err
    }
  }

  current(): Limits {
    return this.table.get(KEY) ?? this.defaults
  }

  /** Writes a new document and resolves once this instance applies it. */
  async replace(limits: Limits): Promise<Limits> {
    const problems = limitsProblems(limits)
    if (problems.length > 0) throw new ImflowError('IMF_ERR_BAD_REQUEST', problems.join('; '))
    const value = JSON.stringify(limits)
    await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key: KEY, value }] })
    const until = Date.now() + READ_BACK_MS
    while (JSON.stringify(this.current()) !== value) {
      if (Date.now() > until)
        throw new ImflowError(
          'IMF_ERR_TIMEOUT',
          'the new limits were written but not read back yet',
        )
      await new Promise((r) => setTimeout(r, 20))
    }
    return this.current()
  }

  async stop(): Promise<void> {
    await this.table.stop()
    await this.producer.disconnect()
  }
}
