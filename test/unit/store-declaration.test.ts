// One declaration (name + serdes) serves the processor that writes a store and the query that
// reads it: what one writes through openStore the other reads back typed, prefix scans
// included, and a topology may list declarations as its stores.

import { describe, expect, it } from 'vitest'
import { declareStore, jsonSerde, MemoryStore, storeNames, stringSerde } from '../../state/index.js'
import {
  defineTopology,
  openStore,
  queryStore,
  TopologyTestDriver,
} from '../../topologies/runtime/index.js'

const rows = declareStore('rows', stringSerde, jsonSerde<{ n: number }>())

const topology = defineTopology({
  name: 'declared',
  sources: [{ topic: 'in' }],
  stores: [rows],
  processor: (context) => {
    const store = openStore(context, rows)
    return {
      async process(record) {
        const key = String(record.key)
        store.put(key, { n: ((await store.get(key))?.n ?? 0) + 1 })
      },
    }
  },
})

describe('store declarations', () => {
  it('names the topology’s stores', () => {
    expect(topology.stores).toEqual(['rows'])
    expect(storeNames({ rows })).toEqual({ rows: 'rows' })
  })

  it('lets a query read back, typed, what the processor wrote', async () => {
    const driver = new TopologyTestDriver(topology)
    for (const key of ['a:1', 'a:2', 'a:1', 'b:1']) {
      await driver.pipe('in', { key, value: 'x', timestamp: 0 })
    }
    const committed = new MemoryStore()
    const written = driver.store('rows')
    const ops = []
    for await (const [key, value] of written.range()) ops.push({ key, value })
    await committed.write(ops)
    const running = { committedStoreForKey: () => committed }
    const query = queryStore(running, rows, 'a')
    expect(await query.get('a:1')).toEqual({ n: 2 })
    expect(await query.get('c:1')).toBeUndefined()
    const prefixed = []
    for await (const entry of query.prefix('a:')) prefixed.push(entry)
    expect(prefixed).toEqual([
      ['a:1', { n: 2 }],
      ['a:2', { n: 1 }],
    ])
  })
})
