// The counting topology used by the runtime's crash tests and benchmark: per key, a count in
// a RocksDB store (with changelog); every new count is emitted, or with `latestPerKey` (a
// table's changes, as Kafka Streams' count().toStream()) a key's latest per transaction while
// the record cache is on.

import { int64Serde, stringSerde, typedStore } from '../state/index.js'
import { defineTopology } from '../topologies/runtime/index.js'

export const countTopology = (input: string, output: string, { latestPerKey = false } = {}) =>
  defineTopology({
    name: 'count',
    sources: [{ topic: input }],
    sinks: { counts: { topic: output, partitionBy: 'task', latestPerKey } },
    stores: ['counts'],
    processor: (context) => {
      const counts = typedStore(context.store('counts'), stringSerde, int64Serde)
      return {
        async process(record) {
          const key = record.key?.toString() ?? ''
          const n = ((await counts.get(key)) ?? 0) + 1
          counts.put(key, n)
          context.send('counts', { key, value: Buffer.from(String(n)) })
        },
      }
    },
  })
