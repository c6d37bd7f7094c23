// A task that fails to open (here its state folder cannot be made: a file is in the way) is
// tried again by the runner itself, with backoff, even on a partition that gets no record;
// past the grace period the topology reports itself unhealthy (what /readyz shows), and healthy
// again once the task opened.

import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../ops/log.js'
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
})
