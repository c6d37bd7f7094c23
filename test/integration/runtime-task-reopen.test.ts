// A task that fails to open (here its state folder cannot be made: a file is in the way) is
// tried again by the runner itself, with backoff, even on a partition that gets no record;
// past the grace period the topology reports itself unhealthy (what /readyz shows), and healthy
// again once the task opened. One whose producer cannot connect (a broker outage) leaves no
// store open behind it: the next try is not locked out by its own process.

import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Kafka, Producer, ProducerConfig } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { createLogger, silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique } from './helpers.js'
import { scratchState, testScope } from './runtime-support.js'

describe('runtime: a task that fails to open', () => {
  const kafka = testKafka()
  const input = unique('reopen-in')
  const appId = unique('reopen-app')
  const state = scratchState('reopen', { [input]: 2 })

  const topology = defineTopology({
    name: 'reopen',
    sources: [{ topic: input }],
    stores: ['seen'],
    processor: (context) => ({
      process(record) {
        context.store('seen').put(record.key ?? Buffer.alloc(0), Buffer.from(String(record.value)))
      },
    }),
  })

  it('is opened again by the runner, and reported unhealthy meanwhile', {
    timeout: 120_000,
  }, async () => {
    const blocker = join(state.dir, appId, 'reopen', '0')
    await mkdir(join(state.dir, appId, 'reopen'), { recursive: true })
    await writeFile(blocker, 'not a folder')
    const running = await startTopology(topology, {
      kafka,
      appId,
      transactionScope: testScope(),
      stateDir: state.dir,
      log: silentLogger,
      openGraceMs: 1_500,
    })
    try {
      await eventually(() => running.committedStore(1, 'seen'), { what: 'partition 1 to open' })
      const unhealthy = await eventually(
        () => {
          const h = running.healthy()
          return h.ok ? undefined : h
        },
        { timeoutMs: 60_000, what: 'the topology to report partition 0 not open' },
      )
      expect(unhealthy.detail).toMatch(/partitions 0 assigned but not open/)
      expect(running.committedStore(0, 'seen')).toBeUndefined()

      await rm(blocker)
      // No record arrives on partition 0: only the runner's own retry can open it.
      await eventually(() => running.committedStore(0, 'seen'), {
        timeoutMs: 60_000,
        what: 'partition 0 to open after the obstacle is gone',
      })
      await eventually(() => (running.healthy().ok ? true : undefined), {
        what: 'the topology to be healthy again',
      })
    } finally {
      await running.stop()
    }
  })

  it('closes its stores when its producer cannot connect, so the next try opens them', {
    timeout: 120_000,
  }, async () => {
    const app = unique('reopen-producer-app')
    let refusals = 3
    // The task producers of partition 0 cannot connect at first, as in a broker outage.
    const flaky: Kafka = Object.assign(Object.create(kafka), {
      producer(config?: ProducerConfig): Producer {
        const real = kafka.producer(config)
        if (!config?.transactionalId?.endsWith('-0') || refusals <= 0) return real
        refusals--
        return Object.assign(Object.create(real), {
          connect: () => Promise.reject(new Error('Connection error: connect ECONNREFUSED')),
        })
      },
    })
    const lines: string[] = []
    const running = await startTopology(topology, {
      kafka: flaky,
      appId: app,
      transactionScope: 'task',
      stateDir: state.dir,
      log: createLogger('warn', (line) => lines.push(line)),
    })
    try {
      await eventually(() => running.committedStore(0, 'seen'), {
        timeoutMs: 60_000,
        what: 'partition 0 to open once its producer connects',
      })
      const failed = lines.filter((l) => /task did not open/.test(l))
      expect(failed).toHaveLength(3)
      expect(failed.filter((l) => /lock/i.test(l))).toEqual([])
    } finally {
      await running.stop()
    }
  })
})
