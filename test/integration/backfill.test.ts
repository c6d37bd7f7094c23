// Backfill: a topology added to a deployment later builds its state from the retained log on
// its first start. The deployment runs without merge-index and merge while traffic goes
// through; started with them, their consumer groups (no committed offsets) read their topics
// from the earliest retained offset, and their stores end up as those of a run that had them
// from the start: a replay --into a new app id from offset 0 (docs/replay.md, "Backfill").

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { digestApp } from '../../ops/app/commands/replay/digest-app.js'
import { runReplay } from '../../ops/app/commands/replay/run-replay.js'
import type { Deployment } from '../../ops/app/commands/replay/tool-config.js'
import { eventually, unique } from './helpers.js'
import {
  allTopologies,
  caughtUp,
  conversationPartitions,
  differingStores,
  type ReplayRig,
  replayRig,
  rigTopologies,
  writeTraffic,
} from './replay-traffic.js'

const before = ['inbound', 'receiver', 'inbox', 'sync']
const added = ['merge-index', 'merge']

describe('backfill', () => {
  const prefix = `${unique('bkf')}.`
  const runtime = `${prefix}imflow`
  let rig: ReplayRig
  let deployment: Deployment
  let topologies: Awaited<ReturnType<typeof rigTopologies>> | undefined

  beforeAll(async () => {
    rig = await replayRig(prefix)
    deployment = rig.deployment
    topologies = await rigTopologies(rig)
  })
  afterAll(async () => {
    await topologies?.stop()
    await rig?.close()
  })

  const start = (only?: readonly string[]) =>
    (topologies as NonNullable<typeof topologies>).start({ only })

  const stop = () => (topologies as NonNullable<typeof topologies>).stop()

  it('starts a topology added later from the earliest retained offset, with the state of a run from the start', async () => {
    expect(conversationPartitions).toBe(1)
    const first = await start(before)
    expect(first.running.topologies.map((t) => t.name)).toEqual(before)
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
    expect(all.running.topologies.map((t) => t.name)).toEqual(allTopologies)
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
