// Regression: tasks opened only on their partition's first record, so a partition that got no
// new record after an assignment (a quiet user, a restart) answered queries with NOT_READY
// indefinitely. Tasks now open (and restore) when assigned.

import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique } from './helpers.js'
import { scratchState, testScope } from './runtime-support.js'

describe('runtime: tasks open on assignment', () => {
  const kafka = testKafka()
  const input = unique('quiet-in')
  const app = unique('quiet-app')
  const state = scratchState('quiet', { [input]: 2 })

  const topology = defineTopology({
    name: 'quiet',
    sources: [{ topic: input }],
    stores: ['seen'],
    processor: (context) => ({
      process(record) {
        context.store('seen').put(record.key ?? Buffer.alloc(0), Buffer.from(String(record.value)))
      },
    }),
  })
  const start = () =>
    startTopology(topology, {
      kafka,
      appId: app,
      transactionScope: testScope(),
      stateDir: state.dir,
      log: silentLogger,
    })

  it('serves a partition that never got a record, and restored state after a restart with none', {
    timeout: 90_000,
  }, async () => {
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: input, messages: [{ key: 'a', value: 'one', partition: 0 }] })
    await producer.disconnect()
    const first = await start()
    try {
      await eventually(
        async () =>
          (await first.committedStore(0, 'seen')?.get(Buffer.from('a'))) ? true : undefined,
        { what: 'partition 0 to hold its record' },
      )
      // Partition 1 has had no record: its task is open all the same.
      const quiet = await eventually(() => first.committedStore(1, 'seen'), {
        what: 'partition 1 open',
      })
      expect(await quiet.get(Buffer.from('a'))).toBeUndefined()
    } finally {
      await first.stop()
    }
    // Restarted with nothing new to consume: the state is back and readable.
    const second = await start()
    try {
      const restored = await eventually(() => second.committedStore(0, 'seen'), {
        what: 'partition 0 open after the restart',
      })
      expect((await restored.get(Buffer.from('a')))?.toString()).toBe('one')
    } finally {
      await second.stop()
    }
  })
})
