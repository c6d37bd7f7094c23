// `imflow start` (external mode) on a broker of this test's own, which is SIGKILLed and
// restarted while users send over the API and devices receive over WebSockets: sends are
// accepted again and devices pushed again within seconds of the broker being back (the time
// is printed; docs/reliability.md has the figures), /readyz answers 503 while the broker is
// gone, naming the topologies that no longer hear from their group, and 200 again after; and
// every accepted message is in every member's device and in history exactly once.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ImflowClient } from '../../connectors/client/index.js'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { type EmbeddedKafka, startEmbeddedKafka } from '../../ops/embedded/embedded-kafka.js'
import { silentLogger } from '../../ops/log.js'
import { freePort } from '../../ops/ports.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'broker-restart-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const MEMBERS = ['ann', 'ben', 'cat', 'dan']
const SENDERS = ['ann', 'ben', 'cat']
/**
 * The promise is 10 s from the broker's return (3 s to 9 s measured here, see
 * docs/reliability.md); the test allows twice that on a loaded machine, which still fails the
 * 30 s kafkajs' defaults took.
 */
const RECOVERY_BOUND_MS = 20_000

interface Accepted {
  clientMsgId: string
  msgId: string
  at: number
}

/** Each sender sends one message after another, each retried until accepted (same clientMsgId). */
function senders(url: string) {
  let running = true
  const accepted: Accepted[] = []
  const loops = SENDERS.map(async (sender) => {
    for (let i = 0; running; i++) {
      const clientMsgId = `${sender}-${i}`
      const msgId = await eventually(
        async () => {
          const res = await httpCall(url, 'POST', '/v1/messages', token(sender), {
            conversationId: 'crew',
            clientMsgId,
            type: 'TEXT',
            body: clientMsgId,
          }).catch(() => undefined)
          if (res?.status !== 200)
            process.stderr.write(
              `${new Date().toISOString()} SEND ${clientMsgId} ${res?.status} ${res?.status ? await res.clone().text() : ''}\n`,
            )
          return res?.status === 200 ? ((await res.json()) as { msgId: string }).msgId : undefined
        },
        { timeoutMs: 180_000, intervalMs: 200, what: `${clientMsgId} to be accepted` },
      )
      accepted.push({ clientMsgId, msgId, at: Date.now() })
      await new Promise((r) => setTimeout(r, 100))
    }
  })
  return {
    accepted,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

/** Every message of a conversation's history, page by page (bounded). */
async function historyIds(url: string, cid: string, bearer: string): Promise<string[]> {
  const ids: string[] = []
  let before: string | undefined
  for (let page = 0; page < 100; page++) {
    const query = `limit=200${before ? `&before=${encodeURIComponent(before)}` : ''}`
    const res = await httpCall(url, 'GET', `/v1/conversations/${cid}/messages?${query}`, bearer)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { messages: { msgId: string }[]; next?: string | null }
    ids.push(...body.messages.map((m) => m.msgId))
    if (!body.next) return ids
    before = body.next
  }
  throw new Error(`${cid}: more than 100 pages of history`)
}

describe('imflow across a broker SIGKILL (external mode)', () => {
  let dir: string
  let broker: EmbeddedKafka | undefined
  let app: RunningApp
  let stopApp: (() => Promise<void>) | undefined
  const clients: ImflowClient[] = []

  afterAll(async () => {
    for (const c of clients) await c.close()
    await stopApp?.()
    await broker?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  }, 120_000)

  it('accepts and pushes again soon after the broker is back, nothing lost or doubled', {
    timeout: 600_000,
  }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'imflow-app-broker-'))
    const port = await freePort()
    const start = () =>
      startEmbeddedKafka({ port, dataDir: join(dir, 'kafka'), log: silentLogger, heap: '384m' })
    broker = await start()
    ;({ app, stop: stopApp } = await startTestApp(`${unique('brk')}.`, {
      KAFKA_BROKERS: broker.brokers.join(','),
      IMFLOW_JWT_SECRET: secret,
    }))
    const created = await httpCall(app.url, 'POST', '/v1/conversations', token('root', 'admin'), {
      conversationId: 'crew',
      type: 'GROUP',
      members: MEMBERS,
    })
    expect(created.status).toBe(201)

    // Every message a device was pushed, in the order pushed (a second PTS would show twice).
    const pushed = new Map<string, { msgId: string; at: number }[]>(MEMBERS.map((m) => [m, []]))
    for (const member of MEMBERS) {
      const client = new ImflowClient({
        url: app.url,
        token: token(member),
        deviceId: `${member}-phone`,
        reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
      })
      client.on('events', (events) => {
        for (const { event } of events)
          if (event.payload.kind === 'NewMessage')
            pushed.get(member)?.push({ msgId: event.payload.message.msgId, at: Date.now() })
      })
      clients.push(client)
      await client.connect()
    }

    const load = senders(app.url)
    let readyDuringOutage: { status: number; body: string } | undefined
    let back = 0
    try {
      await eventually(() => (load.accepted.length >= 30 ? true : undefined), {
        timeoutMs: 120_000,
        what: '30 messages accepted before the kill',
      })
      process.kill(broker.process.pid, 'SIGKILL')
      await broker.process.exited
      // /readyz says so while the broker is gone, and names the topologies once they have
      // not heard from their group for a session (10 s).
      readyDuringOutage = await eventually(
        async () => {
          const res = await fetch(`${app.url}/readyz`)
          const body = await res.text()
          return res.status === 503 && /receiver: /.test(body)
            ? { status: res.status, body }
            : undefined
        },
        { timeoutMs: 30_000, intervalMs: 250, what: '/readyz to report the outage' },
      )
      await new Promise((r) => setTimeout(r, 3_000))
      broker = await start()
      back = Date.now()
      const firstAccepted = await eventually(() => load.accepted.find((a) => a.at > back)?.at, {
        timeoutMs: 120_000,
        intervalMs: 100,
        what: 'a send accepted after the restart',
      })
      const firstPushed = await eventually(
        () => {
          const times = [...pushed.values()].flat().filter((p) => p.at > back)
          return times.length > 0 ? Math.min(...times.map((p) => p.at)) : undefined
        },
        { timeoutMs: 120_000, intervalMs: 100, what: 'a push after the restart' },
      )
      const ready = await eventually(
        async () => ((await fetch(`${app.url}/readyz`)).status === 200 ? Date.now() : undefined),
        { timeoutMs: 120_000, intervalMs: 250, what: '/readyz to answer 200 again' },
      )
      process.stderr.write(
        `broker restart: first receipt ${firstAccepted - back} ms, first push ${firstPushed - back} ms, /readyz 200 ${ready - back} ms after the broker was back\n`,
      )
      expect(firstAccepted - back).toBeLessThan(RECOVERY_BOUND_MS)
      expect(firstPushed - back).toBeLessThan(RECOVERY_BOUND_MS)
      // A few more seconds of traffic on the recovered app.
      const after = load.accepted.length
      await eventually(() => (load.accepted.length >= after + 20 ? true : undefined), {
        timeoutMs: 60_000,
        what: '20 more messages accepted after the restart',
      })
    } finally {
      await load.stop()
    }
    expect(readyDuringOutage?.body).toMatch(/"kafka":\{"ok":false/)
    expect(readyDuringOutage?.body).toMatch(/"topologies":\{"ok":false/)

    const want = new Set(load.accepted.map((a) => a.msgId))
    expect(want.size).toBe(load.accepted.length)
    await eventually(
      () =>
        MEMBERS.every((m) => new Set(pushed.get(m)?.map((p) => p.msgId)).size >= want.size)
          ? true
          : undefined,
      {
        timeoutMs: 120_000,
        intervalMs: 250,
        what: `every device to hold all ${want.size} messages (${MEMBERS.map((m) => `${m} ${pushed.get(m)?.length}`).join(', ')})`,
      },
    )
    for (const [member, list] of pushed) {
      const ids = list.map((p) => p.msgId)
      expect(ids.length, `${member} was pushed a message twice`).toBe(new Set(ids).size)
      expect(new Set(ids), member).toEqual(want)
      const shown = clients[MEMBERS.indexOf(member)]?.messages('crew').map((m) => m.msgId)
      expect(new Set(shown), member).toEqual(want)
    }
    const listed = await historyIds(app.url, 'crew', token('dan'))
    expect(listed.length).toBe(new Set(listed).size)
    expect(new Set(listed)).toEqual(want)
  })
})
