// A replay shapes as the live app did (the real app, broker and registry): limits set at run
// time (PUT /v1/limits) throttle a burst live; `imflow replay --into` a new app id, far faster
// than the traffic came, gives every message the same receipt (the same msgIds, the same
// Throttled reasons and retry times) and the same stores, shaping's included. Shaping decides
// by the records' time and a shadow follows the live app's limits document (docs/replay.md).

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import { digestApp } from '../../ops/app/commands/replay/digest-app.js'
import { runReplay } from '../../ops/app/commands/replay/run-replay.js'
import type { Deployment } from '../../ops/app/commands/replay/tool-config.js'
import type { ContractCodecs } from '../../schemas/contract.js'
import type { Receipt } from '../../schemas/types.generated.js'
import type { Limits } from '../../topologies/shaping/index.js'
import { eventually, httpCall, startTestApp, testKafka, unique } from './helpers.js'
import {
  allTopologies,
  conversationPartitions,
  differingStores,
  type ReplayRig,
  readReceipts,
  replayRig,
  settled,
  writeTraffic,
} from './replay-traffic.js'

const secret = 'replay-shaping-secret-0123456789abcdef'
const admin = issueToken({ sub: 'root', role: 'admin' }, secret)

describe('imflow replay with peak shaving', () => {
  const prefix = `${unique('rpls')}.`
  const kafka = testKafka()
  let rig: ReplayRig
  let codecs: ContractCodecs
  let deployment: Deployment
  let app: Awaited<ReturnType<typeof startTestApp>> | undefined

  // No limits configured: the ones in force are set at run time, on the live app.
  beforeAll(async () => {
    rig = await replayRig(prefix)
    ;({ codecs, deployment } = rig)
  })
  afterAll(async () => {
    await app?.stop()
    await rig?.close()
  })

  it('throttles in the replay what the live app throttled, and nothing else', async () => {
    expect(conversationPartitions).toBe(1)
    app = await startTestApp(prefix, { IMFLOW_JWT_SECRET: secret })
    const url = app.app.url
    const defaults = (await (await httpCall(url, 'GET', '/v1/limits', admin)).json()) as Limits
    // Per sender 20 messages/s, 5 at once: bursts of 20 are over it.
    const strict = { ...defaults, user: { default: { rate: 20, burst: 5 }, overrides: {} } }
    expect((await httpCall(url, 'PUT', '/v1/limits', admin, strict)).status).toBe(200)
    const sent = 200
    await writeTraffic(kafka, rig, sent, { perRequest: 20 })
    const byId = (receipts: Receipt[]) =>
      Object.fromEntries(receipts.map((r) => [r.clientMsgId, r.outcome]))
    const live = byId(await readReceipts(kafka, codecs, `${prefix}im.receipts`, sent))
    const throttled = Object.values(live).filter((o) => o.kind === 'Throttled')
    expect(throttled.length).toBeGreaterThan(0)
    expect(throttled.every((o) => o.kind === 'Throttled' && o.reason === 'USER_RATE')).toBe(true)
    expect(Object.values(live).some((o) => o.kind === 'Accepted')).toBe(true)
    await eventually(await settled(deployment, codecs), {
      timeoutMs: 90_000,
      what: 'the app to settle',
    })
    await app.stop()
    app = undefined

    const into = 'shadow1'
    await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: allTopologies,
      into,
      write: () => {},
    })
    const shadow = byId(await readReceipts(kafka, codecs, `${prefix}${into}.im.receipts`, sent))
    expect(shadow).toEqual(live)
    const [liveStores, shadowStores] = await Promise.all(
      [`${prefix}imflow`, `${prefix}${into}`].map((app) =>
        digestApp(deployment.kafka, deployment.admin, app, allTopologies),
      ),
    )
    expect(shadowStores?.some((r) => r.store === 'shaping-load' && r.keys > 0)).toBe(true)
    // The wall-clock window of offline notifications aside (docs/replay.md), the same state.
    expect(
      differingStores(liveStores ?? [], shadowStores ?? []).filter(
        (s) => s !== 'sync/pending-notifications',
      ),
    ).toEqual([])
  }, 480_000)
})
