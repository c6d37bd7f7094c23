// Unit failover: unit 0 runs as its own `imflow start` process and is SIGKILLed while unit 1's
// API keeps posting to a group homed in unit 0. `imflow unit failover` on a "standby host" (an
// empty data folder, another port) takes unit 0 over from its replicated topics within two
// minutes; every message unit 1's API saw accepted is in unit 0's history once, in order, and
// the messages posted during the outage are accepted after it, with no change to unit 1.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { freePort } from '../../ops/ports.js'
import { parseMsgId } from '../../schemas/msg-id.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'unit-failover-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const MESSAGES = 30
const KILL_AFTER = 10
const TAKEOVER_BOUND_MS = 120_000 // the seeds' figure

describe('units: failover of a SIGKILLed unit', () => {
  const run = unique('unit-fo')
  const a = `${run}-a.`
  const b = `${run}-b.`
  let unit1: RunningApp
  const stops: (() => Promise<void>)[] = []
  const children: ChildProcess[] = []
  const dirs: string[] = []

  /** Unit 0 as its own process: `start`, or `unit failover` on a fresh data folder. */
  const unit0 = async (command: string[]) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'imflow-unit0-'))
    dirs.push(dataDir)
    const port = await freePort()
    const child = spawn(process.execPath, ['--import', 'tsx', 'ops/app/bin.ts', ...command], {
      env: {
        ...process.env,
        KAFKA_BROKERS: inject('kafkaBrokers').join(','),
        SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
        IMFLOW_TOPIC_PREFIX: a,
        IMFLOW_UNIT: '0',
        IMFLOW_REMOTE_UNITS: `1=${b}`,
        IMFLOW_DATA_DIR: dataDir,
        IMFLOW_PORT: String(port),
        IMFLOW_PARTITIONS: '2',
        IMFLOW_STREAM_THREADS: '1',
        IMFLOW_MAX_EVENT_LOOP_LAG_MS: '0',
        IMFLOW_JWT_SECRET: secret,
        IMFLOW_LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    })
    children.push(child)
    const url = `http://127.0.0.1:${port}`
    await eventually(
      async () =>
        (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined,
      { timeoutMs: TAKEOVER_BOUND_MS, intervalMs: 250, what: `unit 0 (${command[0]}) to be ready` },
    )
    return { child, url }
  }

  beforeAll(async () => {
    const second = await startTestApp(b, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_UNIT: '1',
      IMFLOW_REMOTE_UNITS: `0=${a}`,
    })
    stops.push(second.stop)
    unit1 = second.app
  }, 180_000)
  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue
      child.kill('SIGINT')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    for (const stop of stops.reverse()) await stop()
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  }, 60_000)

  it('takes over within two minutes and loses no accepted message', {
    timeout: 400_000,
  }, async () => {
    const first = await unit0(['start'])
    const admin = token('root', 'admin')
    const created = await httpCall(unit1.url, 'POST', '/v1/conversations', admin, {
      conversationId: 'fo',
      type: 'GROUP',
      members: ['ann', 'bob'],
      unit: '0',
    })
    expect(created.status).toBe(201)
    const history = async (url: string) => {
      const res = await httpCall(
        url,
        'GET',
        '/v1/conversations/fo/messages?limit=200',
        token('bob'),
      )
      return res.status === 200
        ? ((await res.json()) as { messages: { msgId: string; body: string }[] })
        : undefined
    }
    await eventually(() => history(first.url), { what: 'unit 0 to know the group' })

    // Posted to unit 1, processed by unit 0; each retried with its clientMsgId until accepted.
    const accepted: string[] = []
    let killedAt = 0
    let takenOver: Promise<{ url: string }> | undefined
    for (let i = 0; i < MESSAGES; i++) {
      if (i === KILL_AFTER) {
        first.child.kill('SIGKILL')
        await new Promise((resolve) => first.child.once('exit', resolve))
        killedAt = Date.now()
        takenOver = unit0(['unit', 'failover'])
      }
      const msgId = await eventually(
        async () => {
          const res = await httpCall(unit1.url, 'POST', '/v1/messages', token('ann'), {
            conversationId: 'fo',
            clientMsgId: `fo-${i}`,
            type: 'TEXT',
            body: `#${i}`,
          }).catch(() => undefined)
          return res?.status === 200 ? ((await res.json()) as { msgId: string }).msgId : undefined
        },
        { timeoutMs: TAKEOVER_BOUND_MS + 60_000, intervalMs: 250, what: `message ${i}` },
      )
      accepted.push(msgId)
    }
    const standby = await (takenOver as Promise<{ url: string }>)
    const readyAfter = Date.now() - killedAt
    expect(readyAfter).toBeLessThan(TAKEOVER_BOUND_MS)

    expect(accepted.every((id) => parseMsgId(id).unit === 0)).toBe(true)
    const page = await eventually(
      async () => {
        const p = await history(standby.url)
        return p && p.messages.length >= MESSAGES ? p : undefined
      },
      { what: 'the standby’s history to hold every message' },
    )
    expect(page.messages.map((m) => m.msgId).reverse()).toEqual(accepted)
    expect(page.messages.map((m) => m.body).reverse()).toEqual(accepted.map((_, i) => `#${i}`))
  })
})
