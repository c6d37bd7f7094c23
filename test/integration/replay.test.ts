// `imflow replay` through the real broker and registry: traffic through an in-process imflow,
// a replay refused while it runs, then, stopped, a dry run and a replay --into a new app id
// whose stores' digests equal the original's (docs/replay.md).
// Then, as users see it, after a replay into the live app id: a user's stream is the same, a
// device that held all of it gets nothing new, and a new one gets every message once, with the
// same PTS and msgId.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImflowClient } from '../../connectors/client/index.js'
import { issueToken } from '../../connectors/http/jwt.js'
import { digestApp } from '../../ops/app/commands/replay/digest-app.js'
import { runReplay } from '../../ops/app/commands/replay/run-replay.js'
import type { Deployment } from '../../ops/app/commands/replay/tool-config.js'
import { isImflowError } from '../../ops/errors.js'
import type { ContractCodecs } from '../../schemas/contract.js'
import type { SequencedEvent } from '../../schemas/types.generated.js'
import { eventually, httpCall, startTestApp, testKafka, unique } from './helpers.js'
import {
  allTopologies,
  conversationPartitions,
  conversations,
  differingStores,
  type ReplayRig,
  readReceipts,
  replayRig,
  settled,
  writeTraffic,
} from './replay-traffic.js'

describe('imflow replay', () => {
  const prefix = `${unique('rpl')}.`
  const kafka = testKafka()
  let rig: ReplayRig
  let codecs: ContractCodecs
  let deployment: Deployment
  let app: Awaited<ReturnType<typeof startTestApp>> | undefined

  beforeAll(async () => {
    rig = await replayRig(prefix)
    ;({ codecs, deployment } = rig)
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await app?.stop()
    await rig?.close()
  })

  const secret = 'replay-devices-secret-0123456789abcdef'
  const env = { IMFLOW_JWT_SECRET: secret }
  const clients: ImflowClient[] = []
  const annsToken = issueToken({ sub: 'ann' }, secret)
  /** ann's sync events from the start (GET /v1/sync): her head PTS and PTS -> msgId. */
  const annsStream = (url: string) =>
    eventually(
      async () => {
        const res = await httpCall(url, 'GET', '/v1/sync?after=0&limit=1000', annsToken)
        if (res.status !== 200) return undefined // 503 while its tasks are being assigned
        const page = (await res.json()) as { headPts: number; events: SequencedEvent[] }
        const byPts = new Map<number, string>()
        for (const { pts, event } of page.events)
          if (event.payload.kind === 'NewMessage') byPts.set(pts, event.payload.message.msgId)
        return { headPts: page.headPts, byPts }
      },
      { what: 'ann’s sync events' },
    )
  /** A device of ann's: the messages its PTS stream brought, PTS -> msgId. */
  const device = (url: string, deviceId: string, lastPts?: number) => {
    const client = new ImflowClient({
      url,
      token: annsToken,
      deviceId,
      ...(lastPts === undefined ? {} : { lastPts }),
      reconnect: { initialDelayMs: 50, maxDelayMs: 1_000 },
    })
    clients.push(client)
    const byPts = new Map<number, string>()
    client.on('events', (events) => {
      for (const { pts, event } of events)
        if (event.payload.kind === 'NewMessage') byPts.set(pts, event.payload.message.msgId)
    })
    return { client, byPts }
  }

  it('refuses while the app runs; into a new app id gives equal digests, into the live one changes none', async () => {
    // All on one receiver partition: two receiver tasks' hand-offs to one user interleave in
    // the order they happen to arrive, live or replayed (docs/replay.md).
    expect(conversationPartitions).toBe(1)
    // Shaping as configured by default: it decides by the records' time, so the replay
    // below decides as the app did (docs/shaping.md).
    app = await startTestApp(prefix, env)
    const sent = 60
    await writeTraffic(kafka, rig, sent)
    const receipts = await readReceipts(kafka, codecs, `${prefix}im.receipts`, sent)
    // Every message HIGH, and no read receipts: what the replay cannot reproduce yet (LOW's
    // wall-clock drain, a task's topics read in arrival order) is in docs/replay.md.
    expect(receipts.every((r) => r.outcome.kind === 'Accepted')).toBe(true)
    await eventually(await settled(deployment, codecs), {
      timeoutMs: 90_000,
      what: 'the app to settle',
    })
    // ann's stream as a device would pull it (every message is to a conversation of hers).
    const before = await annsStream(app.app.url)
    expect(before.byPts.size).toBe(sent)

    // While it runs: refused, with the typed error; a dry run says so too.
    const refused = await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: ['receiver'],
      write: () => {},
    }).catch((err: unknown) => err)
    expect(isImflowError(refused, 'IMF_ERR_APP_RUNNING')).toBe(true)
    expect((refused as Error).message).toContain(`${prefix}imflow-receiver`)
    let dryRun = ''
    await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: ['receiver'],
      dryRun: true,
      write: (t) => {
        dryRun += t
      },
    })
    expect(dryRun).toMatch(
      new RegExp(
        `${prefix.replace('.', '\\.')}imflow-receiver +${prefix.replace('.', '\\.')}im\\.ingest`,
      ),
    )
    expect(dryRun).toContain(`${sent + conversations.length} records would be replayed`)
    expect(dryRun).toContain('a replay now would be refused')

    await app.stop()
    app = undefined
    const into = 'shadow1'
    const lines: string[] = []
    const result = await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: ['inbound', 'receiver', 'inbox', 'sync', 'merge-index', 'merge'],
      into,
      write: (t) => lines.push(t),
      progressIntervalMs: 500,
    })
    expect(result.final?.done).toBe(result.final?.total)
    expect(lines.at(-1)).toMatch(/^replay 100% /)
    // The shadow's outputs went to its own topics, not the live ones.
    const shadowReceipts = await readReceipts(kafka, codecs, `${prefix}${into}.im.receipts`, sent)
    expect(shadowReceipts).toHaveLength(sent)
    // Its journal says what went into it: other arguments are another replay, not a resume.
    const other = await runReplay(deployment, {
      from: { kind: 'offset', offset: 5 },
      topologies: ['receiver'],
      into,
      write: () => {},
    }).catch((err: unknown) => err)
    expect(isImflowError(other, 'IMF_ERR_USAGE')).toBe(true)
    expect((other as Error).message).toContain('with other arguments (--from 0 --topology inbound')

    const live = await digestApp(
      deployment.kafka,
      deployment.admin,
      `${prefix}imflow`,
      allTopologies,
    )
    const shadow = await digestApp(
      deployment.kafka,
      deployment.admin,
      `${prefix}${into}`,
      allTopologies,
    )
    expect(live.filter((r) => r.keys > 0).length).toBeGreaterThan(5)
    expect(shadow.length).toBe(live.length)
    // The one store that waits on the wall clock: users owed an offline notification until
    // their window passes (docs/replay.md); everything else is the same state.
    expect(differingStores(live, shadow).filter((s) => s !== 'sync/pending-notifications')).toEqual(
      [],
    )
    const ids = shadow.find((r) => r.store === 'dedupe' && r.keys > 0)
    expect(ids?.keys).toBe(sent)

    // Into the live app id (stopped), from the start: its stores answer every record as seen
    // before. No message stored or sequenced again, none renumbered: the same state.
    const again = await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: allTopologies,
      write: () => {},
      progressIntervalMs: 500,
    })
    expect(again.final?.done).toBe(sent + 2 * conversations.length)
    const after = await digestApp(
      deployment.kafka,
      deployment.admin,
      `${prefix}imflow`,
      allTopologies,
    )
    expect(differingStores(live, after).filter((s) => s !== 'sync/pending-notifications')).toEqual(
      [],
    )

    // As users see it: ann's stream is the same; a phone that held all of it gets nothing new;
    // a tablet logging in for the first time gets every message once, same PTS and msgId.
    app = await startTestApp(prefix, env)
    expect(await annsStream(app.app.url)).toEqual(before)
    const phone = device(app.app.url, 'phone', before.headPts)
    const tablet = device(app.app.url, 'tablet')
    await Promise.all([phone.client.connect(), tablet.client.connect()])
    await eventually(() => (tablet.byPts.size >= sent ? true : undefined), {
      what: 'every message at ann’s new tablet',
    })
    await Promise.all([phone.client.settled(), tablet.client.settled()])
    expect(tablet.byPts).toEqual(before.byPts)
    expect([...phone.byPts]).toEqual([])
    expect(phone.client.lastPts).toBe(before.headPts)
  }, 480_000)
})
