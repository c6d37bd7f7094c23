// A store of a real topology rebuilt from the retained log on start, with no fold declared
// and no replay: the receiver's conversation-messages, which the receiver writes only for a
// message its dedupe store has not seen (re-run over the live dedupe, nothing would be
// written). The deployment runs with traffic and duplicates and stops; the store's changelog
// and the receiver's state folder are deleted, as if the store were new beside the others;
// started again, each receiver task rebuilds it by a shadow run before it opens, and every
// store's digest equals a replay --into a new app id from offset 0 (docs/replay.md,
// "A new store without a fold").

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
  createConversations,
  differingStores,
  type ReplayRig,
  replayRig,
  rigTopologies,
  sendMessages,
} from './replay-traffic.js'

describe('a store rebuilt from the log on start (the whole app)', () => {
  const prefix = `${unique('srb')}.`
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

  const start = (lines: string[] = []) =>
    (topologies as NonNullable<typeof topologies>).start({
      log: createLogger('info', (line) => lines.push(line)),
    })
  const stop = () => (topologies as NonNullable<typeof topologies>).stop()

  it('rebuilds conversation-messages by a shadow run: every digest as a replay from offset 0', async () => {
    const first = await start()
    const producer = deployment.kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      await createConversations(
        producer,
        deployment.admin,
        first.codecs,
        prefix,
        `${runtime}-receiver`,
      )
      await sendMessages(producer, first.codecs, prefix, 60)
      // The first 20 again (same clientMsgIds): duplicates dedupe answers.
      await sendMessages(producer, first.codecs, prefix, 20)
    } finally {
      await producer.disconnect()
    }
    await eventually(() => caughtUp(deployment.admin, runtime, first.sources), {
      timeoutMs: 180_000,
      intervalMs: 500,
      what: 'the topologies to process the traffic',
    })
    await stop()

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
    const { running } = await start(lines)
    const receiver = running.topologies.find((t) => t.name === 'receiver')
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
