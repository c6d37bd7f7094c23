// The sync topology under SIGKILL: 50,000 user events (10,000 fan-out records of five
// recipients) are sequenced and pushed to one online device per user while the process is
// killed three times and restarted. Every user must end up with PTS 1..n, each PTS naming
// one message and each message one PTS (never sequenced twice), every message delivered, and
// the client library's view showing each message once.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ClientState } from '../../connectors/client/index.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { createEventCodec } from '../../schemas/codec.js'
import { registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type { DeviceEvent, FanoutBatch } from '../../schemas/types.generated.js'
import { partitionForKey } from '../../topologies/runtime/partitioner.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import {
  committedPastKillPoint,
  committedSum,
  spawnFixture,
  waitForConsumed,
} from './runtime-support.js'

const RECORDS = 10_000
const PER_RECORD = 5
const USERS = 100
const PARTITIONS = 4
const KILLS = 3

describe('sync: PTS and delivery across SIGKILLs', () => {
  const kafka = testKafka()
  const prefix = `${unique('sync-crash')}.`
  const app = unique('sync-crash-app')
  const fanout = `${prefix}fanout`
  let stateDir: string

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'imflow-sync-crash-'))
    await withAdmin((admin) =>
      createTopicsAndWait(
        admin,
        [fanout, 'im.device-events', 'im.sync', 'im.notify'].map((t) => ({
          topic: t === fanout ? t : `${prefix}${t}`,
          numPartitions: PARTITIONS,
        })),
      ),
    )
  })
  afterAll(() => rm(stateDir, { recursive: true, force: true }))

  it(`loses no event and never sequences one twice while killed ${KILLS} times`, {
    timeout: 600_000,
  }, async () => {
    const schemas = registrySchemaSource(inject('schemaRegistryUrl'))
    const codecs = await registerContract(schemas, prefix)
    const fanoutCodec = await createEventCodec(schemas, `${fanout}-value`, 'FanoutBatch')
    const users = Array.from({ length: USERS }, (_, i) => `u${i}`)
    const byPartition = new Map<number, string[]>()
    for (const u of users) {
      const p = partitionForKey(u, PARTITIONS)
      byPartition.set(p, [...(byPartition.get(p) ?? []), u])
    }
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    const deviceEvent = (userId: string, event: DeviceEvent['event']) => ({
      key: userId,
      value: codecs['im.device-events'].encode({ userId, deviceId: 'd', at: Date.now(), event }),
    })
    await producer.send({
      topic: `${prefix}im.device-events`,
      messages: users.map((u) =>
        deviceEvent(u, { kind: 'LoggedIn', lastPts: 0, deviceClass: 'DESKTOP', gateway: 't' }),
      ),
    })

    // The device side: records every pushed event and acks what it holds without a gap.
    const received = new Map<string, Map<number, string>>()
    // What each user's client shows: the library's own state, fed every envelope as pushed.
    const clients = new Map(users.map((u) => [u, new ClientState(u)]))
    const acked = new Map<string, number>()
    const reader = kafka.consumer({ groupId: unique('sync-crash-devices') })
    await reader.connect()
    await reader.subscribe({ topic: `${prefix}im.sync`, fromBeginning: true })
    let envelopesSeen = 0
    const wrong: string[] = []
    await reader.run({
      eachMessage: async ({ message }) => {
        const envelope = await codecs['im.sync'].decode(message.value as Buffer)
        envelopesSeen++
        if (envelope.content.kind !== 'SyncBatch') {
          wrong.push(
            `${envelope.userId}: an unexpected Rebase to ${envelope.content.headPts} (acked ${acked.get(envelope.userId) ?? 0}, held ${received.get(envelope.userId)?.size ?? 0})`,
          )
          return
        }
        clients.get(envelope.userId)?.applyEvents(envelope.content.events)
        const seen = received.get(envelope.userId) ?? new Map<number, string>()
        received.set(envelope.userId, seen)
        let previous = 0
        for (const { pts, event } of envelope.content.events) {
          if (pts <= previous) wrong.push(`${envelope.userId}: PTS ${pts} after ${previous}`)
          previous = pts
          if (event.payload.kind !== 'NewMessage') continue
          const msgId = event.payload.message.msgId
          const before = seen.get(pts)
          if (before !== undefined && before !== msgId)
            wrong.push(`${envelope.userId}: PTS ${pts} named ${before}, now ${msgId}`)
          seen.set(pts, msgId)
        }
        let upTo = acked.get(envelope.userId) ?? 0
        while (seen.has(upTo + 1)) upTo++
        if (upTo > (acked.get(envelope.userId) ?? 0)) {
          acked.set(envelope.userId, upTo)
          await producer.send({
            topic: `${prefix}im.device-events`,
            messages: [deviceEvent(envelope.userId, { kind: 'Acked', pts: upTo })],
          })
        }
      },
    })

    const expected = new Map<string, string[]>(users.map((u) => [u, []]))
    for (let start = 0; start < RECORDS; start += 1_000) {
      const messages = []
      for (let i = start; i < start + 1_000; i++) {
        const partition = i % PARTITIONS
        const pool = byPartition.get(partition) ?? []
        const recipients = Array.from(
          new Set(
            Array.from(
              { length: PER_RECORD },
              (_, k) => pool[(i * 7 + k * 13) % pool.length] as string,
            ),
          ),
        )
        const msgId = String(1_000_000 + i)
        for (const r of recipients) expected.get(r)?.push(msgId)
        const batch: FanoutBatch = {
          partition,
          recipients,
          sourceId: msgId,
          updateLists: true,
          event: {
            priority: 'HIGH',
            payload: {
              kind: 'NewMessage',
              message: {
                msgId,
                conversationId: `c${i % 50}`,
                senderId: 'sender',
                clientMsgId: msgId,
                type: 'TEXT',
                body: `m${i}`,
                priority: 'HIGH',
                visibility: 'NORMAL',
                targets: [],
                createdAt: 1_000 + i,
                sentAt: 1_000 + i,
                seq: 0,
              },
            },
          },
        }
        messages.push({ key: `c${i % 50}`, partition, value: fanoutCodec.encode(batch) })
      }
      await producer.send({ topic: fanout, messages })
    }
    const total = [...expected.values()].reduce((n, l) => n + l.length, 0)
    expect(total).toBeGreaterThanOrEqual(45_000)

    const env = {
      IMFLOW_TEST_REGISTRY: inject('schemaRegistryUrl'),
      IMFLOW_TEST_APP: app,
      IMFLOW_TEST_PREFIX: prefix,
      IMFLOW_TEST_STATE: stateDir,
    }
    const group = `${app}-sync`
    let progress = 0
    const logs: string[] = []
    for (let kill = 0; kill < KILLS; kill++) {
      const running = spawnFixture('sync-app', env)
      progress = await committedPastKillPoint(kafka, group, fanout, {
        kill,
        kills: KILLS,
        total: RECORDS,
        before: progress,
      })
      running.child.kill('SIGKILL')
      await running.exited
      logs.push(running.output())
      expect(
        await committedSum(kafka, group, fanout),
        `kill ${kill + 1} came after the input`,
      ).toBeLessThan(RECORDS)
    }
    const last = spawnFixture('sync-app', env)
    try {
      await waitForConsumed(kafka, group, fanout, 300_000)
      await eventually(
        () =>
          users.every((u) => (acked.get(u) ?? 0) >= (expected.get(u)?.length ?? 0))
            ? true
            : undefined,
        {
          timeoutMs: 120_000,
          intervalMs: 250,
          what: `every device to hold all its events (${users
            .filter((u) => (acked.get(u) ?? 0) < (expected.get(u)?.length ?? 0))
            .slice(0, 5)
            .map((u) => `${u} ${acked.get(u) ?? 0}/${expected.get(u)?.length}`)
            .join(', ')} ...; ${wrong.slice(0, 3).join('; ')})`,
        },
      )
    } finally {
      last.child.kill('SIGTERM')
      await last.exited
      await reader.disconnect()
      await producer.disconnect()
    }
    const problems: string[] = []
    for (const u of users) {
      const seen = received.get(u) ?? new Map()
      const want = expected.get(u) ?? []
      const ptsList = [...seen.keys()].sort((a, b) => a - b)
      const msgIds = ptsList.map((p) => seen.get(p))
      // Join events are not in this input: PTS are exactly 1..n, in the order sequenced.
      if (ptsList.length !== want.length || ptsList.some((p, i) => p !== i + 1))
        problems.push(`${u}: PTS ${ptsList.length} of ${want.length}`)
      if (new Set(msgIds).size !== msgIds.length) problems.push(`${u}: a message has two PTS`)
      if ([...msgIds].sort().join() !== [...want].sort().join())
        problems.push(`${u}: messages differ`)
      const shown = Array.from({ length: 50 }, (_, c) =>
        (clients.get(u) as ClientState).messages.messages(`c${c}`).map((m) => m.msgId),
      ).flat()
      if (shown.length !== want.length || new Set(shown).size !== shown.length)
        problems.push(
          `${u}: the client shows ${shown.length} messages (${new Set(shown).size} distinct) of ${want.length}`,
        )
    }
    expect(wrong.slice(0, 10)).toEqual([])
    expect(problems.slice(0, 10)).toEqual([])
    expect(envelopesSeen).toBeGreaterThan(0)
    expect([...logs, last.output()].join('\n')).toMatch(/store restored .*records=[1-9]/)
  })
})
