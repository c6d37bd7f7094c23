// The merge under a big group's burst, through the real broker: a 2,000-member group, 25
// messages, every member reads every message (one receipt per message) and 30% react (with
// retries, removals of reactions never added, and add-then-remove), while the merge process is
// SIGKILLed mid-burst and restarted; then the whole input is produced again (a replay). After
// the restart and again after the replay, the last update of every message must carry the
// exact totals; the replay moves no cursor, so it sends no read status; and the merged updates
// must be at most 1% of what an unmerged design sends (one per receipt or reaction per
// recipient).

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { createEventCodec } from '../../schemas/codec.js'
import { registerContract } from '../../schemas/contract.js'
import { composeMsgId } from '../../schemas/msg-id.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type { Action, ReactionSummary, ReadStatus } from '../../schemas/types.generated.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import { committedSum, spawnFixture, waitForConsumed } from './runtime-support.js'

const MEMBERS = 2_000
const MESSAGES = 25
const REACTING = 0.3
const EMOJI = ['👍', '🎉', '❤️', '😂']
const PARTITIONS = 4
const LARGE_WINDOW_MS = 5_000

/** A deterministic pseudo-random number in [0, 1) for (a, b, c). */
function hash(a: number, b: number, c = 0): number {
  let h = (a * 374_761_393 + b * 668_265_263 + c * 2_147_483_647) | 0
  h = Math.imul(h ^ (h >>> 13), 1_274_126_177)
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32
}

describe('merge: a 2,000-member burst across a SIGKILL and a replay', () => {
  const kafka = testKafka()
  const prefix = `${unique('merge-burst')}.`
  const app = unique('merge-burst-app')
  const topic = (t: string) => `${prefix}${t}`
  let stateDir: string

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'imflow-merge-burst-'))
    await withAdmin((admin) =>
      createTopicsAndWait(
        admin,
        ['im.conversations', 'im.actions', 'im.receipts', 'im.rooms', 'fanout'].map((t) => ({
          topic: topic(t),
          numPartitions: PARTITIONS,
        })),
      ),
    )
  })
  afterAll(() => rm(stateDir, { recursive: true, force: true }))

  it('emits exact totals, at most 1% of the naive updates', { timeout: 600_000 }, async () => {
    const schemas = registrySchemaSource(inject('schemaRegistryUrl'))
    const codecs = await registerContract(schemas, prefix)
    const fanoutCodec = await createEventCodec(schemas, `${topic('fanout')}-value`, 'FanoutBatch')
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    const members = Array.from({ length: MEMBERS }, (_, i) => `u${i}`)
    const cid = 'town-hall'
    await producer.send({
      topic: topic('im.conversations'),
      messages: [
        {
          key: cid,
          value: codecs['im.conversations'].encode({
            conversationId: cid,
            actorId: null,
            at: Date.now(),
            change: {
              kind: 'ConversationCreated',
              conversationType: 'GROUP',
              members,
              admins: [],
              unit: '',
            },
          }),
        },
      ],
    })
    // The receiver's Accepted receipts: who sent which message.
    const base = Date.now() - 60_000
    const msgIds = Array.from({ length: MESSAGES }, (_, j) =>
      composeMsgId({ timeMs: base + j, unit: 0, worker: 1, sequence: 0 }),
    )
    const senderOf = (j: number) => members[Math.floor(hash(j, 7) * MEMBERS)] as string
    await producer.send({
      topic: topic('im.receipts'),
      messages: msgIds.map((msgId, j) => ({
        key: senderOf(j),
        value: codecs['im.receipts'].encode({
          conversationId: cid,
          clientMsgId: `m${j}`,
          senderId: senderOf(j),
          decidedAt: base + j,
          outcome: { kind: 'Accepted', msgId, createdAt: base + j },
        }),
      })),
    })

    // The burst: round j, every member reads message j; 30% react to it.
    const actions: Action[] = []
    const reactions = msgIds.map(() => new Map<string, Set<string>>())
    const at = Date.now()
    const act = (userId: string, action: Action['action']) =>
      actions.push({ conversationId: cid, userId, at, action })
    for (const [j, msgId] of msgIds.entries()) {
      for (const [i, userId] of members.entries()) {
        act(userId, { kind: 'ReadReceipt', upToMsgId: msgId })
        if (hash(i, j, 1) >= REACTING) continue
        const emoji = EMOJI[Math.floor(hash(i, j, 2) * EMOJI.length)] as string
        const react = (e: string, op: 'ADD' | 'REMOVE') =>
          act(userId, { kind: 'ReactionChanged', msgId, emoji: e, op })
        react(emoji, 'ADD')
        const roll = hash(i, j, 3)
        if (roll < 0.05)
          react(emoji, 'ADD') // a retry
        else if (roll < 0.1)
          react('🙈', 'REMOVE') // never added
        else if (roll < 0.15) react(emoji, 'REMOVE') // taken back
        const kept = roll >= 0.1 && roll < 0.15 ? undefined : emoji
        if (kept) {
          const users = reactions[j]?.get(kept) ?? new Set<string>()
          users.add(userId)
          reactions[j]?.set(kept, users)
        }
      }
    }
    const produceAll = async () => {
      for (let start = 0; start < actions.length; start += 5_000) {
        await producer.send({
          topic: topic('im.actions'),
          messages: actions.slice(start, start + 5_000).map((a) => ({
            key: cid,
            value: codecs['im.actions'].encode(a),
          })),
        })
      }
    }
    const receipts = MEMBERS * MESSAGES
    const reactionChanges = actions.length - receipts

    const env = {
      IMFLOW_TEST_REGISTRY: inject('schemaRegistryUrl'),
      IMFLOW_TEST_APP: app,
      IMFLOW_TEST_PREFIX: prefix,
      IMFLOW_TEST_STATE: stateDir,
      IMFLOW_TEST_PARTITIONS: String(PARTITIONS),
      IMFLOW_TEST_LARGE_MS: String(LARGE_WINDOW_MS),
    }
    const group = `${app}-merge`
    const first = spawnFixture('merge-app', env)
    // The group exists before anyone reads in it, as in production (topics are not ordered
    // among themselves: a receipt seen before its group's creation is a non-member's).
    await eventually(
      async () =>
        (await committedSum(kafka, group, topic('im.conversations'))) > 0 &&
        (await committedSum(kafka, `${app}-merge-index`, topic('im.receipts'))) >= MESSAGES
          ? true
          : undefined,
      { timeoutMs: 120_000, intervalMs: 100, what: 'the merge to know the group and messages' },
    )
    const burst = produceAll()
    await eventually(
      async () => ((await committedSum(kafka, group, topic('im.actions'))) > 0 ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 100, what: 'the merge to commit some of the burst' },
    )
    first.child.kill('SIGKILL')
    await first.exited
    await burst
    expect(
      await committedSum(kafka, group, topic('im.actions')),
      'the kill came after the burst',
    ).toBeLessThan(actions.length)
    /** Every update emitted so far, read committed, from the start. */
    const readUpdates = async () => {
      const statuses: ReadStatus[] = []
      const summaries: ReactionSummary[] = []
      const misdirected: string[] = []
      let statusDeliveries = 0
      const reader = kafka.consumer({ groupId: unique('merge-burst-reader') })
      await reader.connect()
      await reader.subscribe({ topics: [topic('fanout'), topic('im.rooms')], fromBeginning: true })
      // The ends now: a partition is read when its last record (before the commit marker) is.
      const ends = new Map<string, number>()
      for (const t of [topic('fanout'), topic('im.rooms')]) {
        for (const { partition, high } of await withAdmin((a) => a.fetchTopicOffsets(t)))
          if (Number(high) > 0) ends.set(`${t}:${partition}`, Number(high))
      }
      const read = new Map<string, number>()
      let lastRead = Date.now()
      await reader.run({
        eachMessage: async ({ topic: t, partition, message }) => {
          lastRead = Date.now()
          read.set(`${t}:${partition}`, Number(message.offset) + 1)
          if (t === topic('im.rooms')) {
            const room = await codecs['im.rooms'].decode(message.value as Buffer)
            if (room.event.payload.kind === 'ReactionSummary') summaries.push(room.event.payload)
            return
          }
          const batch = await fanoutCodec.decode(message.value as Buffer)
          if (batch.event.payload.kind === 'ReadStatus') {
            statuses.push(batch.event.payload)
            statusDeliveries += batch.recipients.length
            const sender = senderOf(msgIds.indexOf(batch.event.payload.msgId))
            if (batch.recipients.join() !== sender)
              misdirected.push(`a status for ${sender} went to ${batch.recipients.join()}`)
          }
          if (batch.event.payload.kind === 'ReactionSummary')
            misdirected.push('a large group got a per-member reaction summary')
        },
      })
      // Read up to the ends, or until nothing more comes for a while (an aborted transaction
      // at a partition's end leaves offsets no read-committed reader reaches).
      await eventually(
        () =>
          [...ends].every(([tp, end]) => (read.get(tp) ?? 0) >= end - 1) ||
          Date.now() - lastRead > 15_000
            ? true
            : undefined,
        { timeoutMs: 180_000, what: 'the outputs to be read' },
      )
      await reader.disconnect()
      return { statuses, summaries, misdirected, statusDeliveries }
    }

    /** What differs between each message's last update and the input's totals. */
    const wrongTotals = ({ statuses, summaries }: Awaited<ReturnType<typeof readUpdates>>) => {
      const latest = <T extends { msgId: string; windowEnd: number }>(list: T[]) => {
        const out = new Map<string, T>()
        for (const u of list) {
          const held = out.get(u.msgId)
          if (!held || held.windowEnd <= u.windowEnd) out.set(u.msgId, u)
        }
        return out
      }
      const lastStatus = latest(statuses)
      const lastSummary = latest(summaries)
      const wrong: string[] = []
      for (const [j, msgId] of msgIds.entries()) {
        const status = lastStatus.get(msgId)
        // Every member read it; the sender is no reader of their own message.
        if (status?.readCount !== MEMBERS - 1)
          wrong.push(`${msgId}: read by ${status?.readCount}, not ${MEMBERS - 1}`)
        const want = Object.fromEntries(
          [...(reactions[j] ?? new Map())].map(([e, users]) => [e, users.size]),
        )
        const got = Object.fromEntries(
          Object.entries(lastSummary.get(msgId)?.counts ?? {}).filter(([, n]) => n > 0),
        )
        if (
          JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(want).sort())
        )
          wrong.push(`${msgId}: reactions ${JSON.stringify(got)}, not ${JSON.stringify(want)}`)
      }
      return wrong
    }

    const second = spawnFixture('merge-app', env)
    const outputs = () => `\n--- first run:\n${first.output()}\n--- second run:\n${second.output()}`
    let afterKill: Awaited<ReturnType<typeof readUpdates>>
    let afterReplay: Awaited<ReturnType<typeof readUpdates>>
    try {
      const started = Date.now()
      await waitForConsumed(kafka, group, topic('im.actions'), 300_000).catch((err) => {
        throw new Error(`${String(err)}${outputs()}`)
      })
      console.info(`merge burst: the rest of the burst took ${Date.now() - started} ms`)
      // The last windows close, then every message's last update holds the exact totals.
      await new Promise((r) => setTimeout(r, LARGE_WINDOW_MS + 2_000))
      afterKill = await readUpdates()
      expect(afterKill.misdirected.slice(0, 5)).toEqual([])
      expect(wrongTotals(afterKill).slice(0, 10), 'after the SIGKILL').toEqual([])

      await produceAll() // the replay: every receipt and reaction again
      await waitForConsumed(kafka, group, topic('im.actions'), 300_000).catch((err) => {
        throw new Error(`${String(err)}${outputs()}`)
      })
      await new Promise((r) => setTimeout(r, LARGE_WINDOW_MS + 2_000))
      afterReplay = await readUpdates()
    } finally {
      second.child.kill('SIGTERM')
      await second.exited
      await producer.disconnect()
    }
    // The replay moved no cursor, so it emitted no read status (its reactions taken back
    // were added and removed again, so summaries may go out, with the same counts).
    expect(afterReplay.statuses.length).toBe(afterKill.statuses.length)
    expect(wrongTotals(afterReplay).slice(0, 10), 'after the replay').toEqual([])
    const { statusDeliveries, summaries } = afterReplay

    // Unmerged: one update per receipt to the sender, one per reaction change to every member.
    const naiveReads = receipts
    const naive = naiveReads + reactionChanges * MEMBERS
    const emitted = statusDeliveries + summaries.length
    console.info(
      `merge burst: ${actions.length} actions x2 (replayed), ${statusDeliveries} read statuses / ${naiveReads} naive = ${(statusDeliveries / naiveReads).toFixed(5)}, all updates ${emitted} / ${naive} naive = ${(emitted / naive).toExponential(2)}`,
    )
    expect(statusDeliveries / naiveReads).toBeLessThanOrEqual(0.01)
    expect(emitted / naive).toBeLessThanOrEqual(0.01)
    expect([first.output(), second.output()].join('\n')).toMatch(/store restored .*records=[1-9]/)
  })
})
