// Backfill: a topology added to a deployment later builds its state from the retained log on
// its first start. The deployment runs without merge-index and merge while traffic goes
// through; started with them, their consumer groups (no committed offsets) read their topics
// from the earliest retained offset, and their stores end up as those of a run that had them
// from the start: a replay --into a new app id from offset 0 (docs/replay.md, "Backfill").

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { digestApp } from '../../ops/app/commands/replay/digest-app.js'
import { topologySources } from '../../ops/app/commands/replay/replay-sources.js'
import { runReplay } from '../../ops/app/commands/replay/run-replay.js'
import type { Deployment } from '../../ops/app/commands/replay/tool-config.js'
import { provisionModuleTopics, provisionTopics } from '../../ops/app/provision-topics.js'
import { type RunningTopologies, startTopologies } from '../../ops/app/topologies.js'
import { silentLogger } from '../../ops/log.js'
import { createMetrics } from '../../ops/metrics.js'
import { registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import { eventually, unique } from './helpers.js'
import {
  allTopologies,
  caughtUp,
  conversationPartitions,
  differingStores,
  type ReplayRig,
  replayRig,
  writeTraffic,
} from './replay-traffic.js'

const before = ['inbound', 'receiver', 'inbox', 'sync']
const added = ['merge-index', 'merge']

describe('backfill', () => {
  const prefix = `${unique('bkf')}.`
  const runtime = `${prefix}imflow`
  let rig: ReplayRig
  let deployment: Deployment
  let running: RunningTopologies | undefined

  beforeAll(async () => {
    rig = await replayRig(prefix)
    deployment = rig.deployment
    await provisionTopics(deployment.admin, rig.config, silentLogger)
    await provisionModuleTopics(deployment.admin, rig.config, silentLogger)
  })
  afterAll(async () => {
    for (const s of [...(running?.all ?? [])].reverse()) await s.stop()
    await rig?.close()
  })

  async function start(only?: readonly string[]) {
    const schemas = registrySchemaSource(inject('schemaRegistryUrl'))
    const codecs = await registerContract(schemas, prefix)
    const ctx = {
      config: deployment.config,
      kafka: deployment.kafka,
      codecs,
      schemas,
      log: silentLogger,
      metrics: createMetrics().task,
    }
    const sources = await topologySources(ctx)
    running = await startTopologies(only ? { ...ctx, only } : ctx)
    const started = sources.filter((s) => !only || only.includes(s.topology))
    return { codecs, sources: started }
  }

  async function stop() {
    for (const s of [...(running?.all ?? [])].reverse()) await s.stop()
    running = undefined
  }

  it('starts a topology added later from the earliest retained offset, with the state of a run from the start', async () => {
    expect(conversationPartitions).toBe(1)
    const first = await start(before)
    expect(running?.topologies.map((t) => t.name)).toEqual(before)
    const sent = 60
    await writeTraffic(deployment.kafka, rig, sent)
    await eventually(() => caughtUp(deployment.admin, runtime, first.sources), {
      timeoutMs: 180_000,
      intervalMs: 500,
      what: 'the first topologies to process the traffic',
    })
    await stop()
    // The added topologies' groups have no position yet: nothing tells them where to start
    // but the runtime's rule (the earliest retained offset).
    for (const t of added) {
      const offsets = await deployment.admin.fetchOffsets({ groupId: `${runtime}-${t}` })
      expect(offsets.flatMap((o) => o.partitions).filter((p) => Number(p.offset) >= 0)).toEqual([])
    }

    const all = await start()
    expect(running?.topologies.map((t) => t.name)).toEqual(allTopologies)
    await eventually(() => caughtUp(deployment.admin, runtime, all.sources), {
      timeoutMs: 180_000,
      intervalMs: 500,
      what: 'the added topologies to catch up',
    })
    await stop()

    const into = 'fromstart'
    const replayed = await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: allTopologies,
      into,
      write: () => {},
      progressIntervalMs: 500,
    })
    expect(replayed.final?.done).toBe(replayed.final?.total)
    const live = await digestApp(deployment.kafka, deployment.admin, runtime, allTopologies)
    const reference = await digestApp(
      deployment.kafka,
      deployment.admin,
      `${prefix}${into}`,
      allTopologies,
    )
    // The added topologies built state from what was written before they existed: merge's
    // stores (merge-index is stateless: it re-keys the receipts written before it existed
    // onto the topic merge reads).
    expect(live.filter((r) => r.topology === 'merge' && r.keys > 0).length).toBeGreaterThan(0)
    expect(reference.length).toBe(live.length)
    // Wall-clock windows only (docs/replay.md); everything else is the same state.
    expect(
      differingStores(live, reference).filter((s) => s !== 'sync/pending-notifications'),
    ).toEqual([])
  }, 600_000)
})
