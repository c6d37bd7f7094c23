// State a deployment did not have, built from the retained log on start (docs/replay.md,
// "Backfill" and "A new store without a fold"). One traffic run serves both cases, whose
// shape is the same (a deployment without a piece, traffic, a start with it, a replay --into
// a new app id from offset 0, every store's digest equal):
// - topologies added later: the deployment runs without merge-index and merge; started with
//   them, their consumer groups (no committed offsets) read from the earliest retained offset;
// - a new store with no fold: the receiver's conversation-messages, which the receiver writes
//   only for a message its dedupe store has not seen (re-run over the live dedupe, nothing
//   would be written). Its changelog and the receiver's state folder are deleted, as if the
//   store were new beside the others; each receiver task rebuilds it by a shadow run.

import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { digestApp } from '../../ops/app/commands/replay/digest-app.js'
import { runReplay } from '../../ops/app/commands/replay/run-replay.js'
import type { Deployment } from '../../ops/app/commands/replay/tool-config.js'
import { createLogger } from '../../ops/log.js'
import { changelogTopic } from '../../topologies/runtime/index.js'
import { eventually, unique } from './helpers.js'
import {
  allTopologies,
  caughtUp,
  conversationPartitions,
  differingStores,
  type ReplayRig,
  replayRig,
  rigTopologies,
  sendMessages,
  writeTraffic,
} from './replay-traffic.js'

const before = ['inbound', 'receiver', 'inbox', 'sync']
const added = ['merge-index', 'merge']

describe('backfill: topologies added later and a new store', () => {
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

  const started = () => topologies as NonNullable<typeof topologies>
  const stop = () => started().stop()
  const processed = (sources: Parameters<typeof caughtUp>[2], what: string) =>
    eventually(() => caughtUp(deployment.admin, runtime, sources), {
      timeoutMs: 180_000,
      intervalMs: 500,
      what,
    })

  it('builds both from the log: every digest as a replay from offset 0', async () => {
    expect(conversationPartitions).toBe(1)
    const first = await started().start({ only: before })
    expect(first.running.topologies.map((t) => t.name)).toEqual(before)
    await writeTraffic(deployment.kafka, rig, 60)
    // The first 20 again (same clientMsgIds): duplicates dedupe answers.
    const producer = deployment.kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      await sendMessages(producer, rig.codecs, prefix, 20)
    } finally {
      await producer.disconnect()
    }
    await processed(first.sources, 'the first topologies to process the traffic')
    await stop()
    // The added topologies' groups have no position yet: nothing tells them where to start
    // but the runtime's rule (the earliest retained offset).
    for (const t of added) {
      const offsets = await deployment.admin.fetchOffsets({ groupId: `${runtime}-${t}` })
      expect(offsets.flatMap((o) => o.partitions).filter((p) => Number(p.offset) >= 0)).toEqual([])
    }
    // The store as if it were new: no changelog, no local state (no checkpoint names it).
    const changelog = changelogTopic(runtime, 'receiver', 'conversation-messages')
    await deployment.admin.deleteTopics({ topics: [changelog] })
    await eventually(
      async () => ((await deployment.admin.listTopics()).includes(changelog) ? undefined : true),
      { timeoutMs: 60_000, what: `${changelog} to be deleted` },
    )
    await rm(join(rig.config.dataDir, 'state', runtime, 'receiver'), {
      recursive: true,
      force: true,
    })

    const lines: string[] = []
    const all = await started().start({ log: createLogger('info', (line) => lines.push(line)) })
    expect(all.running.topologies.map((t) => t.name)).toEqual(allTopologies)
    await processed(all.sources, 'the added topologies to catch up')
    const receiver = all.running.topologies.find((t) => t.name === 'receiver')
    await eventually(
      () => [0, 1].every((p) => receiver?.committedStore(p, 'conversation-messages')) || undefined,
      { timeoutMs: 180_000, what: 'the receiver tasks to open' },
    )
    await stop()
    const log = lines.join('\n')
    expect(lines.filter((l) => l.includes('rebuilding new stores by a shadow run'))).toHaveLength(2)
    expect(lines.filter((l) => l.includes('store rebuilt'))).toHaveLength(2)
    expect(log).toContain('shadowRun=["conversation-messages"]')

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
    const rebuilt = live.filter(
      (r) => r.topology === 'receiver' && r.store === 'conversation-messages',
    )
    expect(rebuilt.reduce((sum, r) => sum + r.keys, 0)).toBeGreaterThanOrEqual(60)
    expect(reference.length).toBe(live.length)
    // Wall-clock windows only (docs/replay.md); everything else is the same state.
    expect(
      differingStores(live, reference).filter((s) => s !== 'sync/pending-notifications'),
    ).toEqual([])
  }, 600_000)
})
