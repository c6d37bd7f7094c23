// Merge benchmark: the fan-out and the store writes of read receipts and reactions, merged per
// message over windows (the merge topology) against an unmerged design (bench/merge-naive.ts),
// same input, same broker, same run. The seeds' burst shape: a 2,000- and a 10,000-member
// group, senders drawn from a lognormal (sigma 1.55), every member opening the group a few
// times within a minute and reading up to the newest message then, 30% reacting once.
// Usage: npm run bench -- merge

import { join } from 'node:path'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { createMetrics, type Metrics } from '../ops/metrics.js'
import { createEventCodec } from '../schemas/codec.js'
import { composeMsgId } from '../schemas/msg-id.js'
import { memorySchemaSource } from '../schemas/schema-source.js'
import type { Action } from '../schemas/types.generated.js'
import { mergeTopology } from '../topologies/merge/index.js'
import {
  changelogTopic,
  startTopology,
  type TopologyDefinition,
  TopologyTestDriver,
} from '../topologies/runtime/index.js'
import { committed, waitFor, withBroker } from './broker.js'
import { naiveMergeTopology } from './merge-naive.js'
import { lognormal, random } from './workload.js'

const GROUPS = [2_000, 10_000]
const MESSAGES = Number(process.env.IMFLOW_BENCH_MERGE_MESSAGES ?? 20)
const BURST_MS = 60_000
const WINDOW_MS = 60_000
const GRACE_MS = 100
const PARTITIONS = 4
const EMOJI = ['👍', '🎉', '❤️', '😂']

interface Burst {
  groups: { id: string; members: string[] }[]
  messages: { cid: string; msgId: string; senderId: string; at: number }[]
  actions: { at: number; action: Action }[]
}

function burst(): Burst {
  const rng = random(7)
  const groups = GROUPS.map((n, g) => ({
    id: `big-${g}`,
    members: Array.from({ length: n }, (_, i) => `g${g}-u${i}`),
  }))
  const messages: Burst['messages'] = []
  const actions: Burst['actions'] = []
  for (const group of groups) {
    const weights = group.members.map(() => lognormal(rng, 0, 1.55))
    const total = weights.reduce((a, b) => a + b, 0)
    const pick = () => {
      let r = rng() * total
      for (const [i, w] of weights.entries()) {
        r -= w
        if (r <= 0) return group.members[i] as string
      }
      return group.members.at(-1) as string
    }
    const times = Array.from({ length: MESSAGES }, () => rng() * BURST_MS).sort((a, b) => a - b)
    const sent = times.map((at, j) => ({
      cid: group.id,
      msgId: composeMsgId({ timeMs: Date.UTC(2026, 0, 1) + j, unit: 0, worker: 0, sequence: 0 }),
      senderId: pick(),
      at,
    }))
    messages.push(...sent)
    const act = (userId: string, at: number, action: Action['action']) =>
      actions.push({ at, action: { conversationId: group.id, userId, at: 0, action } })
    for (const userId of group.members) {
      // A few visits within the minute, each reading up to the newest message then.
      const visits = Math.min(5, 1 + Math.floor(lognormal(rng, -0.5, 1)))
      for (let v = 0; v < visits; v++) {
        const at = rng() * BURST_MS
        const newest = sent.filter((m) => m.at <= at).at(-1)
        if (newest) act(userId, at, { kind: 'ReadReceipt', upToMsgId: newest.msgId })
      }
      if (rng() < 0.3) {
        const m = sent[Math.floor(rng() * sent.length)] as (typeof sent)[number]
        const emoji = EMOJI[Math.floor(rng() * EMOJI.length)] as string
        act(userId, Math.max(m.at, rng() * BURST_MS), {
          kind: 'ReactionChanged',
          msgId: m.msgId,
          emoji,
          op: 'ADD',
        })
      }
    }
  }
  actions.sort((a, b) => a.at - b.at)
  return { groups, messages, actions }
}

async function storeWrites(metrics: Metrics, topology: string): Promise<number> {
  const { values } = await metrics.task.storeWrites.get()
  return values.filter((v) => v.labels.topology === topology).reduce((s, v) => s + v.value, 0)
}

export function mergeBench(): Promise<string> {
  return withBroker(async ({ kafka, admin, dir, quiet, run }) => {
    const input = burst()
    const t = (name: string) => `${run}-${name}`
    const topics = {
      conversations: t('conversations'),
      messages: t('messages'),
      fanout: t('fanout'),
      rooms: t('rooms'),
    }
    await createTopicsAndWait(
      admin,
      Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })),
    )
    const source = memorySchemaSource()
    const codecs = {
      conversationEvent: await createEventCodec(source, 'conversations-value', 'ConversationEvent'),
      action: await createEventCodec(source, 'actions-value', 'Action'),
      receipt: await createEventCodec(source, 'receipts-value', 'Receipt'),
      fanoutBatch: await createEventCodec(source, 'fanout-value', 'FanoutBatch'),
      roomEvent: await createEventCodec(source, 'rooms-value', 'RoomEvent'),
    }
    const conversationRecords = input.groups.map((g) => ({
      key: g.id,
      value: codecs.conversationEvent.encode({
        conversationId: g.id,
        actorId: null,
        at: 0,
        change: {
          kind: 'ConversationCreated',
          conversationType: 'GROUP',
          members: g.members,
          admins: [],
          unit: '',
        },
      }),
    }))
    // Who sent what (the merge-index topology's output), before any read.
    const messageRecords = input.messages.map((m) => ({
      key: m.cid,
      value: codecs.receipt.encode({
        conversationId: m.cid,
        clientMsgId: m.msgId,
        senderId: m.senderId,
        decidedAt: 0,
        outcome: { kind: 'Accepted', msgId: m.msgId, createdAt: 0 },
      }),
    }))
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: topics.conversations, messages: conversationRecords })
    await producer.send({ topic: topics.messages, messages: messageRecords })
    await producer.disconnect()
    const closer = input.groups.map((g) => ({
      at: BURST_MS + 2 * WINDOW_MS,
      action: {
        conversationId: g.id,
        userId: 'nobody',
        at: 0,
        action: { kind: 'ReadReceipt', upToMsgId: '1' },
      } satisfies Action,
    }))
    const records = [...input.actions, ...closer]
    const receipts = input.actions.filter((a) => a.action.action.kind === 'ReadReceipt').length
    const reactions = input.actions.length - receipts

    /**
     * One run: the topology learns the groups and messages first (in production they precede
     * the reads by far; topics are not ordered among themselves), then the timed burst on an
     * actions topic of its own.
     */
    const measureRun = async (
      name: string,
      topology: (actions: string) => TopologyDefinition,
      metrics: Metrics,
    ) => {
      const actions = t(`actions-${name}`)
      await createTopicsAndWait(admin, [{ topic: actions, numPartitions: PARTITIONS }])
      const definition = topology(actions)
      const running = await startTopology(definition, {
        kafka,
        appId: `${run}-${name}`,
        stateDir: join(dir, name),
        log: quiet,
        metrics: metrics.task,
      })
      const group = `${run}-${name}-${definition.name}`
      await waitFor(
        async () =>
          (await committed(admin, group, topics.conversations)) >= input.groups.length &&
          (await committed(admin, group, topics.messages)) >= input.messages.length,
      )
      const writesBefore = await storeWrites(metrics, definition.name)
      const started = Date.now()
      // Event time ahead of the wall clock, so the burst's own records close its windows; one
      // record past the last window (a non-member's receipt: ignored) closes the rest.
      const base = started + 10_000
      const burstProducer = kafka.producer()
      await burstProducer.connect()
      for (let i = 0; i < records.length; i += 2_000) {
        await burstProducer.send({
          topic: actions,
          messages: records.slice(i, i + 2_000).map((r) => ({
            key: r.action.conversationId,
            timestamp: String(Math.floor(base + r.at)),
            value: codecs.action.encode(r.action),
          })),
        })
      }
      await burstProducer.disconnect()
      await waitFor(async () => (await committed(admin, group, actions)) >= records.length)
      const seconds = (Date.now() - started) / 1000
      await running.stop()
      await admin.deleteTopics({ topics: [actions] }).catch(() => {})
      return { seconds, writes: (await storeWrites(metrics, definition.name)) - writesBefore }
    }

    /**
     * The same input in-process, one transaction per record (a quiet system: nothing for the
     * runtime to coalesce): the changelog records of the burst, i.e. the store writes.
     */
    const inProcess = { ...topics, actions: 'actions' }
    const writesUncoalesced = async (topology: TopologyDefinition) => {
      const driver = new TopologyTestDriver(topology, { appId: 'bench' })
      for (const g of conversationRecords)
        await driver.pipe(topics.conversations, { ...g, timestamp: 0 })
      for (const m of messageRecords) await driver.pipe(topics.messages, { ...m, timestamp: 0 })
      const changelogs = () =>
        [...new Set(topology.stores ?? [])].reduce(
          (n, store) => n + driver.read(changelogTopic('bench', topology.name, store)).length,
          0,
        )
      changelogs()
      const base = 1_000_000
      for (const r of records) {
        await driver.pipe(inProcess.actions, {
          key: r.action.conversationId,
          value: codecs.action.encode(r.action),
          timestamp: Math.floor(base + r.at),
        })
      }
      return changelogs()
    }
    const naiveQuiet = await writesUncoalesced(
      naiveMergeTopology({
        topics: inProcess,
        codecs,
        userPartitions: PARTITIONS,
        onUpdates: () => {},
      }),
    )
    const mergedQuiet = await writesUncoalesced(
      mergeTopology({
        topics: inProcess,
        codecs,
        userPartitions: PARTITIONS,
        windows: { smallMs: 200, largeMs: WINDOW_MS, graceMs: GRACE_MS },
      }),
    )

    const naiveByKind = { read_status: 0, reaction_summary: 0 }
    const naiveMetrics = createMetrics()
    const naive = await measureRun(
      'naive',
      (actions) =>
        naiveMergeTopology({
          topics: { ...topics, actions },
          codecs,
          userPartitions: PARTITIONS,
          onUpdates: (kind, n) => {
            naiveByKind[kind] += n
          },
        }),
      naiveMetrics,
    )
    const mergeMetrics = createMetrics()
    const merged = await measureRun(
      'merged',
      (actions) =>
        mergeTopology({
          topics: { ...topics, actions },
          codecs,
          userPartitions: PARTITIONS,
          windows: { smallMs: 200, largeMs: WINDOW_MS, graceMs: GRACE_MS },
          metrics: mergeMetrics.merge,
        }),
      mergeMetrics,
    )
    const out = (await mergeMetrics.merge.updatesOut.get()).values
    const updates = out.reduce((s, v) => s + v.value, 0)
    const byKind = Object.fromEntries(out.map((v) => [v.labels.kind, v.value]))
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {})

    const naiveUpdates = naiveByKind.read_status + naiveByKind.reaction_summary
    const reads = (byKind.read_status ?? 0) / naiveByKind.read_status
    const perAction = (w: number) => (w / input.actions.length).toFixed(2)
    const fmt = (n: number) => n.toLocaleString('en-US')
    return [
      `merge: groups of ${GROUPS.map(fmt).join(' and ')} members, ${MESSAGES} messages each, ${fmt(receipts)} read receipts and ${fmt(reactions)} reactions within a minute, ${WINDOW_MS / 1000} s windows, ${PARTITIONS} partitions, one broker`,
      `  unmerged (baseline): ${fmt(naiveUpdates)} updates (${fmt(naiveByKind.read_status)} read statuses, ${fmt(naiveByKind.reaction_summary)} reaction summaries), ${fmt(naive.writes)} store writes = ${perAction(naive.writes)} per action, ${Math.round(records.length / naive.seconds)} actions/s `,
      `  merged per window:   ${fmt(updates)} updates (${fmt(byKind.read_status ?? 0)} read statuses, ${fmt(byKind.reaction_summary ?? 0)} reaction summaries), ${fmt(merged.writes)} store writes = ${perAction(merged.writes)} per action, ${Math.round(records.length / merged.seconds)} actions/s `,
      `  store writes one record per transaction (in-process, nothing coalesced): unmerged ${fmt(naiveQuiet)} = ${(naiveQuiet / receipts).toFixed(2)} per receipt, merged ${fmt(mergedQuiet)} = ${(mergedQuiet / receipts).toFixed(2)} per receipt, merged / unmerged = ${(mergedQuiet / naiveQuiet).toFixed(2)}`,
      `  fan-out: merged / unmerged = ${(updates / naiveUpdates).toExponential(2)} (cut ${((1 - updates / naiveUpdates) * 100).toFixed(4)}%), read statuses alone ${reads.toExponential(2)} (cut ${((1 - reads) * 100).toFixed(3)}%); store writes: merged / unmerged = ${(merged.writes / naive.writes).toFixed(2)}`,
    ].join('\n')
  })
}
