// Long work keeps the group membership (heartbeats while a slow batch runs — the classic
// kafkajs failure, #1083), metrics report per task, and stop() leaves a checkpoint.

import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { createLogger } from '../../ops/log.js'
import { createMetrics } from '../../ops/metrics.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import { testScope } from './runtime-support.js'

describe('runtime: lifecycle', () => {
  const kafka = testKafka()
  const input = unique('slow-in')
  const output = unique('slow-out')
  const app = unique('slow-app')
  let stateDir: string

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'imflow-slow-'))
    await withAdmin((admin) =>
      createTopicsAndWait(
        admin,
        [input, output].map((topic) => ({ topic, numPartitions: 1 })),
      ),
    )
  })
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true })
  })

  it('keeps its membership through a batch longer than the session timeout', {
    timeout: 120_000,
  }, async () => {
    const RECORDS = 200
    const lines: string[] = []
    const log = createLogger('info', (line) => lines.push(line))
    const metrics = createMetrics()
    const topology = defineTopology({
      name: 'slow',
      sources: [{ topic: input }],
      sinks: { out: { topic: output } },
      stores: ['seen'],
      processor: (context) => ({
        async process(record) {
          await new Promise((r) => setTimeout(r, 50)) // 200 x 50 ms = 10 s, beyond the 6 s session
          context.store('seen').put(record.key ?? Buffer.alloc(0), Buffer.from('1'))
          context.send('out', { key: record.key, value: record.value as Buffer })
        },
      }),
    })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: input,
      messages: Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: String(i) })),
    })
    await producer.disconnect()

    const running = await startTopology(topology, {
      kafka,
      appId: app,
      transactionScope: testScope(),
      stateDir,
      log,
      metrics: metrics.task,
      sessionTimeoutMs: 6_000,
    })
    try {
      await eventually(
        async () => {
          const [o] = await withAdmin((admin) =>
            admin.fetchOffsets({ groupId: `${app}-slow`, topics: [input] }),
          )
          return o?.partitions[0]?.offset === String(RECORDS) ? true : undefined
        },
        { timeoutMs: 60_000, what: 'every slow record committed' },
      )
    } finally {
      await running.stop()
    }
    // One assignment: the group never rebalanced while the batch ran.
    expect(lines.filter((l) => l.includes('assignment')).length).toBe(1)
    const text = await metrics.registry.metrics()
    expect(text).toContain(`imflow_task_records_in_total{topology="slow",partition="0"} ${RECORDS}`)
    expect(text).toMatch(/imflow_task_commit_seconds_count\{topology="slow"\} [1-9]/)
    expect(text).toContain('imflow_task_open{topology="slow"} 0')
    // A clean stop leaves a checkpoint, so the next start skips the full restore.
    expect(existsSync(join(stateDir, app, 'slow', '0', 'checkpoint.json'))).toBe(true)
  })
})
