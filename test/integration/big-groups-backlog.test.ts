// The failure that took the sync path down, replayed: a large group's backlog waits behind a
// restart (20,000 messages written to im.ingest while imflow was stopped). After the restart it
// drains — a large group's message costs the receiver O(1), nothing per member — while a 1:1
// conversation on another partition keeps its pushes flowing, and no task stalls the event loop
// for long (measured in this process, which runs the app).

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Partitioners } from 'kafkajs'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { type ClientMessage, ImflowClient } from '../../connectors/client/index.js'
import { issueToken } from '../../connectors/http/jwt.js'
import { createLogger } from '../../ops/log.js'
import { freePort } from '../../ops/ports.js'
import { registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import { partitionForKey } from '../../topologies/runtime/index.js'
import { eventually, httpCall, startTestApp, testKafka, unique } from './helpers.js'

const secret = 'big-backlog-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const BACKLOG = 20_000
const PAIR_MESSAGES = 20
/** The whole test's bound; each wait gets what is left of it, so a failure says where it was. */
const TEST_MS = 300_000

/** A name of the form `<base>-<n>` whose key lands on `partition` (of 2). */
function keyOn(base: string, partition: number): string {
  for (let n = 0; ; n++) if (partitionForKey(`${base}-${n}`, 2) === partition) return `${base}-${n}`
}

describe('a large group’s backlog behind a restart', () => {
  const prefix = `${unique('bigb')}.`
  const crowd = keyOn('crowd', 0)
  const pair = keyOn('pair', 1)
  const running: { stop(): Promise<void> }[] = []
  let dataDir = ''
  afterAll(async () => {
    for (const r of running.splice(0)) await r.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('drains, while a 1:1 conversation’s pushes keep flowing and the event loop keeps turning', {
    timeout: TEST_MS,
  }, async () => {
    const deadline = Date.now() + TEST_MS - 15_000
    const left = () => Math.max(1_000, deadline - Date.now())
    // The app's warnings and errors, told when a wait runs out.
    const warnings: string[] = []
    const log = createLogger('warn', (line) => warnings.push(line.slice(0, 400)))
    const told = () => `; the app's last warnings:\n${warnings.slice(-15).join('\n')}`
    dataDir = await mkdtemp(join(tmpdir(), 'imflow-bigb-'))
    const keep = { dataDir, port: await freePort() }
    // The backlog is written 1,000 messages a request: a burst in send time past the default
    // shaping capacity (2,000 messages/s per partition), which peak shaving would throttle in
    // part (OVERLOAD), live or not; that is shaping-flood's test, not this one.
    const env = { IMFLOW_JWT_SECRET: secret, IMFLOW_SHAPING_CAPACITY: '1000000' }
    const first = await startTestApp(prefix, env, keep)
    const url = first.app.url
    for (const [conversationId, members] of [
      [crowd, Array.from({ length: 2_000 }, (_, i) => `c-${i}`)],
      [pair, ['ann', 'bob']],
    ] as const) {
      const res = await httpCall(url, 'POST', '/v1/conversations', token('root', 'admin'), {
        conversationId,
        type: members.length === 2 ? 'SINGLE' : 'GROUP',
        members,
      })
      expect(res.status).toBe(201)
    }
    const accepted = async (conversationId: string, senderId: string, clientMsgId: string) =>
      eventually(
        async () => {
          const res = await httpCall(url, 'POST', '/v1/messages', token(senderId), {
            conversationId,
            clientMsgId,
            type: 'TEXT',
            body: clientMsgId,
          })
          if (res.status !== 200) throw new Error(`answered ${res.status}${told()}`)
          return ((await res.json()) as { msgId: string }).msgId
        },
        { timeoutMs: Math.min(30_000, left()), what: `${clientMsgId} to be accepted` },
      )
    await accepted(crowd, 'c-1', 'warm-up')
    await accepted(pair, 'ann', 'warm-up')
    await first.stop()
    running.splice(0)

    // The backlog, written straight to im.ingest while nothing reads it.
    const codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), prefix)
    const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    for (let i = 0; i < BACKLOG; i += 1_000) {
      await producer.send({
        topic: `${prefix}im.ingest`,
        messages: Array.from({ length: 1_000 }, (_, k) => ({
          key: crowd,
          value: codecs['im.ingest'].encode({
            conversationId: crowd,
            clientMsgId: `backlog-${i + k}`,
            senderId: `c-${(i + k) % 2_000}`,
            type: 'TEXT',
            body: `backlog ${i + k}`,
            priority: 'HIGH',
            visibility: 'NORMAL',
            targets: [],
            sentAt: Date.now(),
          }),
        })),
      })
    }
    await producer.disconnect()

    const delay = monitorEventLoopDelay({ resolution: 10 })
    const second = await startTestApp(prefix, env, keep, log)
    running.push(second)
    const bob = new ImflowClient({ url, token: token('bob'), deviceId: 'bob-phone', lastPts: 0 })
    const arrivals = new Map<string, number>()
    const note = (messages: ClientMessage[]) => {
      for (const m of messages) if (!arrivals.has(m.msgId)) arrivals.set(m.msgId, Date.now())
    }
    bob.on('events', (events) => {
      note(
        events.flatMap(({ event }) =>
          event.payload.kind === 'NewMessage' ? [{ ...event.payload.message }] : [],
        ),
      )
    })
    await bob.connect()
    const crowdSeq = async () => {
      const res = await httpCall(url, 'GET', '/v1/conversations', token('c-1'))
      if (res.status !== 200) return 0
      const { conversations } = (await res.json()) as {
        conversations: { conversationId: string; seq?: number }[]
      }
      return conversations.find((c) => c.conversationId === crowd)?.seq ?? 0
    }
    // 1:1 messages while the crowd's backlog drains on the other partition.
    const latencies: number[] = []
    let drainingWhenDelivered = 0
    for (let i = 0; i < PAIR_MESSAGES; i++) {
      const sentAt = Date.now()
      const msgId = await accepted(pair, 'ann', `pair-${i}`)
      const arrived = await eventually(
        () => {
          const at = arrivals.get(msgId)
          if (at === undefined) throw new Error(`not pushed yet${told()}`)
          return at
        },
        { timeoutMs: Math.min(30_000, left()), what: `pair-${i} on bob's device` },
      )
      latencies.push(arrived - sentAt)
      // From the first delivery on the app is up (restored, joined): the drain is measured.
      if (i === 0) delay.enable()
      if ((await crowdSeq()) < BACKLOG) drainingWhenDelivered++
      await new Promise((r) => setTimeout(r, 100))
    }
    await eventually(
      async () => {
        const seq = await crowdSeq()
        if (seq <= BACKLOG) throw new Error(`the crowd's seq is ${seq} of ${BACKLOG + 1}${told()}`)
        return true
      },
      { timeoutMs: left(), intervalMs: 500, what: 'the backlog to drain' },
    )
    delay.disable()
    await bob.close()
    const stallMs = delay.max / 1e6
    // The first waited for the restart itself (restore, group join, bob's log-in).
    const [afterRestart, ...rest] = latencies
    rest.sort((a, b) => a - b)
    process.stderr.write(
      `backlog drained; first 1:1 push after the restart ${afterRestart} ms, then p50 ${rest[rest.length >> 1]} ms, max ${rest.at(-1)} ms; ${drainingWhenDelivered}/${PAIR_MESSAGES} delivered while draining; longest event-loop stall ${stallMs.toFixed(0)} ms\n`,
    )
    // The 1:1 pushes did not wait for the backlog: they flowed while it drained.
    expect(drainingWhenDelivered).toBeGreaterThan(0)
    // Far below the drain's own length (20 s to 50 s here): pushes did not queue behind it.
    // Loose bounds for a 2-core machine shared with other runs (p50 1.0 s was seen at load
    // average 20); docs/sync.md has figures measured on a quiet one.
    expect(rest[rest.length >> 1]).toBeLessThan(3_000)
    expect(rest.at(-1)).toBeLessThan(10_000)
    // No stall anywhere near the seconds that evicted the sync consumer before.
    expect(stallMs).toBeLessThan(2_000)
  })
})
