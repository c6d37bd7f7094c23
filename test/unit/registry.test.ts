// The registry is the one list `imflow start` loops over: each module builds the topology it
// is named after, names are unique, and a module that reads a topology's repartition topic
// comes after the one that creates it (the start order the registry promises).

import { describe, expect, it } from 'vitest'
import type { EventCodec } from '../../schemas/codec.js'
import type { ContractCodecs } from '../../schemas/contract.js'
import { topologyModules } from '../../topologies/registry.js'
import { defaultSyncSettings } from '../../topologies/sync/index.js'
import type { TopologyWiring } from '../../topologies/wiring.js'

// Building a topology only keeps the codecs for its processors; none is called here.
const codec = {} as EventCodec<never>
const wiring: TopologyWiring = {
  appId: 'app',
  topic: (base) => `p.${base}`,
  internalTopic: (name) => `app-${name}`,
  remoteInternalTopic: (remote, name) => `${remote.prefix}${remote.appId}-${name}`,
  remoteTopic: (prefix, base) => `${prefix}${base}`,
  codecs: new Proxy({}, { get: () => codec }) as ContractCodecs,
  fanoutCodec: codec,
  partitions: 3,
  userOf: () => undefined,
  settings: {
    unit: 0,
    geo: 'local',
    remoteGeos: { eu: { prefix: 'eu.', appId: 'app' } },
    appId: 'imflow',
    remoteUnits: {},
    largeGroupThreshold: 500,
    maxBodyBytes: 65_536,
    sync: defaultSyncSettings,
    mergeWindows: { smallMs: 200, largeMs: 60_000, graceMs: 0 },
  },
  metrics: {},
}

describe('the topology registry', () => {
  const built = topologyModules.map((m) => ({ module: m, topology: m.build(wiring) }))

  it('builds, for each module, the topology it is named after, under unique names', () => {
    for (const { module, topology } of built) expect(topology.name).toBe(module.name)
    expect(new Set(built.map((b) => b.module.name)).size).toBe(built.length)
  })

  it('starts the creator of a repartition topic before its readers', () => {
    built.forEach(({ topology }, i) => {
      for (const { topic } of topology.sources) {
        const creator = built.findIndex((b) => b.topology.internalTopics?.includes(topic))
        if (creator >= 0) expect(creator).toBeLessThan(i)
      }
    })
    // The hand-off topic is one of them: created by the receiver, read by inbox and sync.
    const readers = built.filter((b) => b.topology.sources.some((s) => s.topic === 'app-fanout'))
    expect(readers.map((b) => b.module.name)).toEqual(['inbox', 'sync'])
  })

  it('has every topic a module needs before it starts named as an internal topic', () => {
    const topics = topologyModules.flatMap((m) => ('topics' in m ? m.topics(wiring) : []))
    expect(topics).toEqual(['app-inbound'])
  })
})
