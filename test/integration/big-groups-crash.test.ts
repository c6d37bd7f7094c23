// `imflow start` SIGKILLed while messages flow to a large group: after it restarts, every online
// device (ImflowClient, reconnecting on its own) holds every accepted message exactly once and
// in seq order — what the dead gateway never pushed is found by seq and pulled.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type ClientMessage, ImflowClient } from '../../connectors/client/index.js'
import { issueToken } from '../../connectors/http/jwt.js'
import { freePort } from '../../ops/ports.js'
import { outputTail, stopChild } from './app-child.js'
import { eventually, httpCall, unique } from './helpers.js'

const secret = 'big-crash-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const MEMBERS = 1_000
const ONLINE = 20
const MESSAGES = 60
const KILL_AFTER = 20

describe('a large group across a SIGKILL of imflow', () => {
  const prefix = `${unique('bigk')}.`
  let dataDir: string
  let port: number
  let child: ChildProcess | undefined
  let tail: () => string[] = () => []
  const clients: ImflowClient[] = []

  const start = async () => {
    const started = spawn(process.execPath, ['--import', 'tsx', 'ops/app/bin.ts', 'start'], {
      env: {
        ...process.env,
        KAFKA_BROKERS: inject('kafkaBrokers').join(','),
        SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
        IMFLOW_TOPIC_PREFIX: prefix,
        IMFLOW_DATA_DIR: dataDir,
        IMFLOW_PORT: String(port),
        IMFLOW_PARTITIONS: '2',
        IMFLOW_JWT_SECRET: secret,
        IMFLOW_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    child = started
    tail = outputTail(started)
    await eventually(
      async () =>
        (await fetch(`${url()}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined,
      { timeoutMs: 120_000, intervalMs: 250, what: 'imflow to be ready' },
    )
  }
  const url = () => `http://127.0.0.1:${port}`

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'imflow-bigk-'))
    port = await freePort()
    await start()
  }, 180_000)
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
    try {
      await stopChild(child, tail)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 60_000)

  it('loses and doubles nothing on any online device', { timeout: 300_000 }, async () => {
    const members = Array.from({ length: MEMBERS }, (_, i) => `m-${i}`)
    const created = await httpCall(url(), 'POST', '/v1/conversations', token('root', 'admin'), {
      conversationId: 'hall',
      type: 'GROUP',
      members,
    })
    expect(created.status).toBe(201)
    const devices = members.slice(0, ONLINE).map((userId) => {
      const client = new ImflowClient({
        url: url(),
        token: token(userId),
        deviceId: `${userId}-phone`,
        reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
      })
      clients.push(client)
      const got: string[] = []
      client.on('messages', (messages: ClientMessage[]) =>
        got.push(...messages.map((m) => m.msgId)),
      )
      return { client, got }
    })
    await Promise.all(devices.map(({ client }) => client.connect()))
    await eventually(
      () => (devices.every(({ client }) => client.seqs().hall === 0) ? true : undefined),
      { timeoutMs: 60_000, what: 'every device to follow hall' },
    )

    // Each message is retried until accepted (the same clientMsgId: the same msgId, once).
    const accepted: string[] = []
    for (let i = 0; i < MESSAGES; i++) {
      if (i === KILL_AFTER) {
        child?.kill('SIGKILL')
        await new Promise((resolve) => child?.once('exit', resolve))
        void start() // the sends below wait for it
      }
      const msgId = await eventually(
        async () => {
          const res = await httpCall(url(), 'POST', '/v1/messages', token('m-500'), {
            conversationId: 'hall',
            clientMsgId: `hall-${i}`,
            type: 'TEXT',
            body: `#${i}`,
          }).catch(() => undefined)
          return res?.status === 200 ? ((await res.json()) as { msgId: string }).msgId : undefined
        },
        { timeoutMs: 150_000, intervalMs: 200, what: `message ${i} to be accepted` },
      )
      accepted.push(msgId)
    }
    await eventually(
      () => (devices.every(({ client }) => client.seqs().hall === MESSAGES) ? true : undefined),
      { timeoutMs: 120_000, what: 'every device to reach the last seq' },
    )
    await Promise.all(devices.map(({ client }) => client.settled()))
    for (const { client, got } of devices) {
      expect(got).toEqual(accepted)
      expect(client.messages('hall').map((m) => m.msgId)).toEqual(accepted)
    }
  })
})
