// IMFLOW_STREAM_THREADS=2: `imflow start` runs the topologies in two processes. The group
// spreads each topology's tasks over both; the API (in the first) answers sends and reads of
// either process's partitions, and /metrics counts both; a stream thread SIGKILLed is started again and the work goes on;
// stopping the first process stops the other, leaving nothing behind.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { parseMetrics, total } from '../../connectors/http/dashboard/metrics-text.js'
import { issueToken } from '../../connectors/http/jwt.js'
import { freePort } from '../../ops/ports.js'
import { partitionForKey } from '../../topologies/runtime/partitioner.js'
import { eventually, httpCall, unique, withAdmin } from './helpers.js'

const secret = 'stream-threads-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

/** The other process's pid (not `before`), from /readyz once every stream thread is up. */
async function threadPid(api: string, before?: number): Promise<number> {
  return eventually(
    async () => {
      const res = await fetch(`${api}/readyz`).catch(() => undefined)
      if (res?.status !== 200) return undefined
      const { checks } = (await res.json()) as { checks: Record<string, { detail?: string }> }
      const pid = /\(pid (\d+)\)/.exec(checks.stream_threads?.detail ?? '')?.[1]
      return pid && Number(pid) !== before ? Number(pid) : undefined
    },
    { timeoutMs: 120_000, intervalMs: 250, what: 'every stream thread to be up' },
  )
}

describe('stream threads', () => {
  const prefix = `${unique('threads')}.`
  let dataDir: string
  let child: ChildProcessWithoutNullStreams
  let exited: Promise<number | null>
  let api: string
  let output = ''

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'imflow-threads-'))
    const port = await freePort()
    api = `http://127.0.0.1:${port}`
    child = spawn(process.execPath, ['--import', 'tsx', 'ops/app/bin.ts', 'start'], {
      env: {
        ...process.env,
        KAFKA_BROKERS: inject('kafkaBrokers').join(','),
        SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
        IMFLOW_TOPIC_PREFIX: prefix,
        IMFLOW_PORT: String(port),
        IMFLOW_DATA_DIR: dataDir,
        IMFLOW_PARTITIONS: '2',
        IMFLOW_STREAM_THREADS: '2',
        IMFLOW_JWT_SECRET: secret,
      },
    })
    child.stdout.on('data', (d) => {
      output += d
    })
    child.stderr.on('data', (d) => {
      output += d
    })
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  }, 30_000)
  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await rm(dataDir, { recursive: true, force: true })
  })

  /** Each process's share of the topology's group: the tasks of each member. */
  const shares = (topology: string) =>
    withAdmin(async (admin) => {
      const { groups } = await admin.describeGroups([`${prefix}imflow-${topology}`])
      return (groups[0]?.members ?? []).length
    })

  const conversationOn = (partition: number) => {
    for (let n = 0; ; n++) if (partitionForKey(`room-${n}`, 2) === partition) return `room-${n}`
  }

  const sendAndRead = async (conversationId: string, n: number) => {
    const sent = await httpCall(api, 'POST', '/v1/messages', token('ann'), {
      conversationId,
      clientMsgId: `${conversationId}-${n}`,
      type: 'TEXT',
      body: `#${n}`,
    })
    expect(sent.status, await sent.clone().text()).toBe(200)
    const { msgId } = (await sent.json()) as { msgId: string }
    // The history is read from whichever process owns the conversation's task.
    await eventually(
      async () => {
        const res = await httpCall(
          api,
          'GET',
          `/v1/conversations/${conversationId}/messages`,
          token('bob'),
        )
        if (res.status !== 200) return undefined
        const { messages } = (await res.json()) as { messages: { msgId: string }[] }
        return messages.some((m) => m.msgId === msgId) ? true : undefined
      },
      { timeoutMs: 60_000, what: `${conversationId}'s history to show message #${n}` },
    )
  }

  it('spreads the tasks over both processes, survives losing one, and stops both', {
    timeout: 300_000,
  }, async () => {
    const first = await threadPid(api).catch((err) => {
      throw new Error(`${err.message}\n${output}`)
    })
    expect(first).not.toBe(child.pid)
    for (const topology of ['receiver', 'inbox', 'sync']) {
      await eventually(async () => ((await shares(topology)) === 2 ? true : undefined), {
        timeoutMs: 60_000,
        what: `two members in ${topology}'s group`,
      })
    }
    const rooms = [conversationOn(0), conversationOn(1)]
    for (const conversationId of rooms) {
      const res = await httpCall(api, 'POST', '/v1/conversations', token('root', 'admin'), {
        conversationId,
        type: 'GROUP',
        members: ['ann', 'bob'],
      })
      expect(res.status).toBe(201)
    }
    for (const conversationId of rooms) await sendAndRead(conversationId, 1)
    // /metrics of the first process sums both: each counts the records of its own task.
    await eventually(
      async () => {
        const text = await (await fetch(`${api}/metrics`)).text()
        const counted = [0, 1].map(
          (p) =>
            total(parseMetrics(text), 'imflow_task_records_in_total', {
              topology: 'receiver',
              partition: String(p),
            }) ?? 0,
        )
        return counted.every((n) => n > 0) ? true : undefined
      },
      { timeoutMs: 30_000, what: "/metrics to count both processes' receiver tasks" },
    )

    // The other process killed outright: started again, and the work goes on.
    process.kill(first, 'SIGKILL')
    const second = await threadPid(api, first)
    for (const conversationId of rooms) await sendAndRead(conversationId, 2)

    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(existsSync(`/proc/${second}`)).toBe(false)
  })
})
