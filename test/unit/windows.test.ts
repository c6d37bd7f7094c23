// Windows, stream time and punctuators, through the topology test driver.

import { describe, expect, it } from 'vitest'
import { int64Serde, stringSerde, windowsFor } from '../../state/index.js'
import {
  defineTopology,
  TopologyTestDriver,
  windowedAggregation,
} from '../../topologies/runtime/index.js'

describe('windowsFor', () => {
  it('gives the one tumbling window of a timestamp', () => {
    expect(windowsFor(12_345, 10_000)).toEqual([{ start: 10_000, end: 20_000 }])
    expect(windowsFor(10_000, 10_000)).toEqual([{ start: 10_000, end: 20_000 }])
  })

  it('gives every hopping window containing a timestamp, oldest first', () => {
    expect(windowsFor(12_000, 10_000, 5_000)).toEqual([
      { start: 5_000, end: 15_000 },
      { start: 10_000, end: 20_000 },
    ])
    expect(windowsFor(1_000, 10_000, 5_000)).toEqual([{ start: 0, end: 10_000 }])
  })
})

/** Counts per key in 10 s windows with 5 s grace; finals to `counts`, late records to `late`. */
function windowedCount(options: { advanceMs?: number; emitEarly?: boolean } = {}) {
  return defineTopology({
    name: 'wcount',
    sources: [{ topic: 'events' }],
    sinks: { counts: { topic: 'counts' }, late: { topic: 'late' } },
    stores: ['windows'],
    processor: (context) => {
      const agg = windowedAggregation<string, number, number>(context, {
        store: 'windows',
        sizeMs: 10_000,
        graceMs: 5_000,
        keys: stringSerde,
        aggregates: int64Serde,
        init: () => 0,
        add: (n) => n + 1,
        ...options,
        emit: ({ key, window, value, final }) =>
          context.send('counts', {
            key,
            value: Buffer.from(`${window.start}:${value}:${final ? 'final' : 'early'}`),
          }),
        onLate: (record, key) =>
          context.send('late', { key, value: Buffer.from(String(record.timestamp)) }),
      })
      return { process: (r) => agg.add(r, r.key?.toString() ?? '', 1) }
    },
  })
}

const values = (records: { key: Buffer | null; value: Buffer | null }[]) =>
  records.map((r) => `${r.key?.toString()}@${r.value?.toString()}`)

describe('tumbling windows', () => {
  it('emit exactly one final result per window, when stream time passes end + grace', async () => {
    const driver = new TopologyTestDriver(windowedCount())
    for (const ts of [1_000, 2_000, 9_999])
      await driver.pipe('events', { key: 'a', value: 'x', timestamp: ts })
    await driver.pipe('events', { key: 'b', value: 'x', timestamp: 3_000 })
    // Window [0, 10s) closes at 15 s of stream time, not before.
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 14_999 })
    expect(driver.read('counts')).toEqual([])
    await driver.pipe('events', { key: 'c', value: 'x', timestamp: 15_000 })
    expect(values(driver.read('counts'))).toEqual(['a@0:3:final', 'b@0:1:final'])
    // Moving on further emits the next window once, never the first again.
    await driver.pipe('events', { key: 'c', value: 'x', timestamp: 40_000 })
    expect(values(driver.read('counts'))).toEqual(['a@10000:1:final', 'c@10000:1:final'])
    await driver.pipe('events', { key: 'c', value: 'x', timestamp: 41_000 })
    expect(driver.read('counts')).toEqual([])
  })

  it('accept an out-of-order record within the grace period', async () => {
    const driver = new TopologyTestDriver(windowedCount())
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 5_000 })
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 12_000 }) // stream time 12 s
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 8_000 }) // window [0,10) still open until 15 s
    await driver.pipe('events', { key: 'z', value: 'x', timestamp: 15_000 })
    expect(values(driver.read('counts'))).toEqual(['a@0:2:final'])
    expect(driver.read('late')).toEqual([])
  })

  it('count records later than the grace and hand them to the handler, not to a window', async () => {
    const driver = new TopologyTestDriver(windowedCount())
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 1_000 })
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 16_000 }) // closes [0,10)
    expect(values(driver.read('counts'))).toEqual(['a@0:1:final'])
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 2_000 }) // its window is closed
    expect(values(driver.read('late'))).toEqual(['a@2000'])
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 60_000 })
    // The late record never reopened [0,10): no second result for it.
    expect(values(driver.read('counts'))).toEqual(['a@10000:1:final'])
  })

  it('emit early results when asked, and still one final', async () => {
    const driver = new TopologyTestDriver(windowedCount({ emitEarly: true }))
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 1_000 })
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 2_000 })
    await driver.pipe('events', { key: 'b', value: 'x', timestamp: 20_000 })
    expect(values(driver.read('counts'))).toEqual([
      'a@0:1:early',
      'a@0:2:early',
      'b@20000:1:early',
      'a@0:2:final',
    ])
  })
})

describe('hopping windows', () => {
  it('put a record in every window that contains it', async () => {
    const driver = new TopologyTestDriver(windowedCount({ advanceMs: 5_000 }))
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 7_000 }) // [0,10) and [5,15)
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 30_000 })
    expect(values(driver.read('counts'))).toEqual(['a@0:1:final', 'a@5000:1:final'])
  })
})

describe('punctuators', () => {
  it('run on stream time as records arrive, and on wall-clock time without records', async () => {
    const topology = defineTopology({
      name: 'tick',
      sources: [{ topic: 'events' }],
      sinks: { ticks: { topic: 'ticks' } },
      processor: (context) => {
        context.schedule(10_000, 'stream-time', (t) =>
          context.send('ticks', { key: 'stream', value: Buffer.from(String(t)) }),
        )
        context.schedule(1_000, 'wall-clock', (t) =>
          context.send('ticks', { key: 'wall', value: Buffer.from(String(t)) }),
        )
        return { process: () => {} }
      },
    })
    const driver = new TopologyTestDriver(topology)
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 100_000 })
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 105_000 })
    expect(driver.read('ticks')).toEqual([])
    await driver.pipe('events', { key: 'a', value: 'x', timestamp: 110_000 })
    expect(values(driver.read('ticks'))).toEqual(['stream@110000'])
    await driver.advanceWallClock(999)
    expect(driver.read('ticks')).toEqual([])
    await driver.advanceWallClock(1)
    expect(values(driver.read('ticks'))).toEqual(['wall@1000'])
  })
})

describe('processing errors', () => {
  it('dead-letter the record under the continue policy, and the task goes on', async () => {
    const topology = defineTopology({
      name: 'picky',
      sources: [{ topic: 'events', decode: (b) => JSON.parse(b.toString()) }],
      sinks: { ok: { topic: 'ok' } },
      onProcessingError: 'continue',
      processor: (context) => ({
        process: (r) => {
          if ((r.value as { n: number }).n < 0) throw new Error('negative')
          context.send('ok', { key: r.key, value: Buffer.from('fine') })
        },
      }),
    })
    const driver = new TopologyTestDriver(topology, {
      deadLetters: {
        topic: 'dlq',
        encode: (l) => Buffer.from(`${l.errorCode}:${l.stage}:${l.errorMessage}`),
      },
    })
    await driver.pipe('events', { key: 'a', value: '{"n":1}', timestamp: 1 })
    await driver.pipe('events', { key: 'b', value: 'not json', timestamp: 2 })
    await driver.pipe('events', { key: 'c', value: '{"n":-1}', timestamp: 3 })
    await driver.pipe('events', { key: 'd', value: '{"n":2}', timestamp: 4 })
    expect(values(driver.read('ok'))).toEqual(['a@fine', 'd@fine'])
    const letters = driver.read('dlq').map((r) => r.value?.toString())
    expect(letters[0]).toMatch(/^UNCLASSIFIED:decode:/)
    expect(letters[1]).toBe('UNCLASSIFIED:picky:negative')
  })
})
