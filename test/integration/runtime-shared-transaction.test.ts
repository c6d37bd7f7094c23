// A task with two source topics commits what one fetch brought of both in one transaction
// (kafkajs hands each topic-partition over as a batch of its own): the commit's cost is paid
// once per fetch, not once per topic, and both positions commit with it.

import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../ops/log.js'
import { createMetrics } from '../../ops/metrics.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique } from './helpers.js'
import { committedSum, produceKeyed, scratchState, testScope } from './runtime-support.js'

const PER_TOPIC = 40

describe('runtime: one transaction for a task’s topics', () => {
  const left = unique('shared-left')
  const right = unique('shared-right')
  const out = unique('shared-out')
  const app = unique('shared-app')
  const state = scratchState('shared', { [left]: 1, [right]: 1, [out]: 1 })

  it('commits both topics’ batches of a fetch together', { timeout: 120_000 }, async () => {
    const kafka = testKafka()
    await produceKeyed(kafka, left, PER_TOPIC, 5)
    await produceKeyed(kafka, right, PER_TOPIC, 5)
    const metrics = createMetrics()
    let processed = 0
    const topology = defineTopology({
      name: 'shared',
      sources: [{ topic: left }, { topic: right }],
      sinks: { out: { topic: out } },
      stores: ['seen'],
      processor: (context) => ({
        process(record) {
          context
            .store('seen')
            .put(Buffer.from(`${record.topic}:${record.offset}`), Buffer.from('1'))
          context.send('out', { key: record.key, value: record.value as Buffer })
          processed++
        },
      }),
    })
    const running = await startTopology(topology, {
      kafka,
      appId: app,
      transactionScope: testScope(),
      stateDir: state.dir,
      log: silentLogger,
      metrics: metrics.task,
    })
    try {
      const groupId = `${app}-shared`
      await eventually(
        async () =>
          (await committedSum(kafka, groupId, left)) === PER_TOPIC &&
          (await committedSum(kafka, groupId, right)) === PER_TOPIC
            ? true
            : undefined,
        { what: 'both topics committed', timeoutMs: 60_000 },
      )
      expect(processed).toBe(2 * PER_TOPIC)
      const commits = (await metrics.registry.getSingleMetricAsString('imflow_task_commit_seconds'))
        .split('\n')
        .find((line) => line.startsWith('imflow_task_commit_seconds_count'))
      // Both records of the fetch in one commit (the two batches would take two).
      expect(commits?.split(' ').pop()).toBe('1')
    } finally {
      await running.stop()
    }
  })
})
