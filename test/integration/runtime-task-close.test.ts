// A task closes without waiting out its retries: a wall-clock punctuation whose transaction
// fails again and again (a broker gone, a punctuator that throws) is retried for minutes while
// the task runs, but a stop or a revocation closes the task at once, and the topology stops.

import { describe, expect, it } from 'vitest'
import { createLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique } from './helpers.js'
import { scratchState, testScope } from './runtime-support.js'

describe('runtime: a task that keeps failing', () => {
  const kafka = testKafka()
  const input = unique('close-in')
  const state = scratchState('close', { [input]: 1 })

  it('closes on stop while its punctuation is being retried', {
    timeout: 60_000,
  }, async () => {
    let failures = 0
    const topology = defineTopology({
      name: 'close',
      sources: [{ topic: input }],
      stores: ['seen'],
      processor: (context) => {
        context.schedule(50, 'wall-clock', () => {
          failures++
          throw new Error('the punctuator fails every time')
        })
        return { process() {} }
      },
    })
    const lines: string[] = []
    const running = await startTopology(topology, {
      kafka,
      appId: unique('close-app'),
      transactionScope: testScope(),
      stateDir: state.dir,
      log: createLogger('warn', (line) => lines.push(line)),
    })
    await eventually(() => (failures >= 3 ? true : undefined), {
      what: 'the punctuation to fail and be retried',
    })
    expect(lines.some((l) => /retrying with a new producer/.test(l))).toBe(true)
    // Before the fix the stop waited for the retries to run out: five minutes.
    await running.stop()
    const after = failures
    await new Promise((r) => setTimeout(r, 500))
    expect(failures).toBe(after)
  })
})
