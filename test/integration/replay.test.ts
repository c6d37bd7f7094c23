import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { digestApp } from '../../ops/app/commands/replay/digest-app.js'
import { runReplay } from '../../ops/app/commands/replay/run-replay.js'
import type { Deployment } from '../../ops/app/commands/replay/tool-config.js'
import { isImflowError } from '../../ops/errors.js'
import type { ContractCodecs } from '../../schemas/contract.js'
import { eventually, startTestApp, testKafka, unique } from './helpers.js'
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
    await app?.stop()
    await rig?.close()
  })

  it('refuses while the app runs; into a new app id gives equal digests, into the live one changes none', async () => {
    // All on one receiver partition: two receiver tasks' hand-offs to one user interleave in
    // the order they happen to arrive, live or replayed (docs/replay.md).
    expect(conversationPartitions).toBe(1)
    // Shaping as configured by default: it decides by the records' time, so the replay
    // below decides as the app did (docs/shaping.md).
    app = await startTestApp(prefix)
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
  }, 480_000)
})
