// Send-path benchmark: accepted messages per second through the receiver (validation,
// dedupe, msgId, conversation log, fan-out by partition) on the seeds' workload shape,
// against a pass-through topology on the same runtime (exactly-once, no state) in the same
// run. Usage: npm run bench -- receiver

import { join } from 'node:path'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { createEventCodec } from '../schemas/codec.js'
import { memorySchemaSource } from '../schemas/schema-source.js'
import type { ConversationEvent, SendMessage } from '../schemas/types.generated.js'
import { receiverTopology } from '../topologies/receiver/index.js'
import { defineTopology, startTopology } from '../topologies/runtime/index.js'
import { committed, topicEnds, waitFor, withBroker } from './broker.js'
import { against, type BenchResult } from './result.js'
import { imWorkload } from './workload.js'

const MESSAGES = Number(process.env.IMFLOW_BENCH_MESSAGES ?? 20_000)
const PARTITIONS = 4

export function receiverBench(): Promise<BenchResult> {
  return withBroker(async ({ kafka, admin, dir, quiet, run }) => {
    const workload = imWorkload({ users: 20_000, groups: 2_000, messages: MESSAGES })
    const t = (name: string) => `${run}-${name}`
    const topics = {
      ingest: t('ingest'),
      conversations: t('conversations'),
      actions: t('actions'),
      receipts: t('receipts'),
      fanout: t('fanout'),
      rooms: t('rooms'),
    }
    const passIn = t('pass-in')
    const passOut = t('pass-out')
    await createTopicsAndWait(
      admin,
      [
        topics.ingest,
        topics.conversations,
        topics.actions,
        topics.receipts,
        topics.rooms,
        passIn,
        passOut,
      ].map((topic) => ({
        topic,
        numPartitions: PARTITIONS,
      })),
    )
    const source = memorySchemaSource()
    const codecs = {
      sendMessage: await createEventCodec(source, 'ingest-value', 'SendMessage'),
      conversationEvent: await createEventCodec(source, 'conversations-value', 'ConversationEvent'),
      receipt: await createEventCodec(source, 'receipts-value', 'Receipt'),
      action: await createEventCodec(source, 'actions-value', 'Action'),
      fanoutBatch: await createEventCodec(source, 'fanout-value', 'FanoutBatch'),
      roomEvent: await createEventCodec(source, 'im.rooms-value', 'RoomEvent'),
    }
    const now = Date.now()
    const messages = workload.messages.map((m, i) => {
      const value: SendMessage = {
        conversationId: m.conversationId,
        clientMsgId: `c-${i}`,
        senderId: m.senderId,
        type: 'TEXT',
        body: 'Please review the attached figures before the 3pm call.',
        priority: 'HIGH',
        visibility: 'NORMAL',
        targets: [],
        sentAt: now,
      }
      return { key: m.conversationId, value: codecs.sendMessage.encode(value) }
    })
    const producer = kafka.producer()
    await producer.connect()
    const produce = async (topic: string) => {
      for (let i = 0; i < messages.length; i += 1_000) {
        await producer.send({ topic, messages: messages.slice(i, i + 1_000) })
      }
    }

    // 1. Baseline: the same records through a stateless exactly-once topology.
    const pass = await startTopology(
      defineTopology({
        name: 'pass',
        sources: [{ topic: passIn }],
        sinks: { out: { topic: passOut, partitionBy: 'task' } },
        processor: (context) => ({
          process: (r) => context.send('out', { key: r.key, value: r.value as Buffer }),
        }),
      }),
      { kafka, appId: run, stateDir: join(dir, 'pass'), log: quiet },
    )
    const passStart = Date.now()
    await produce(passIn)
    await waitFor(async () => (await committed(admin, `${run}-pass`, passIn)) >= MESSAGES)
    const passSeconds = (Date.now() - passStart) / 1000
    await pass.stop()

    // 2. The receiver: conversations first, then the messages.
    const receiver = await startTopology(
      receiverTopology({ topics, codecs, unit: 0, userPartitions: PARTITIONS }),
      { kafka, appId: run, stateDir: join(dir, 'receiver'), log: quiet },
    )
    const events: ConversationEvent[] = workload.groups.map((g) => ({
      conversationId: g.id,
      actorId: null,
      at: now,
      change: {
        kind: 'ConversationCreated',
        conversationType: 'GROUP',
        members: g.members,
        admins: [],
        unit: '',
      },
    }))
    await producer.send({
      topic: topics.conversations,
      messages: events.map((e) => ({
        key: e.conversationId,
        value: codecs.conversationEvent.encode(e),
      })),
    })
    await waitFor(
      async () =>
        (await committed(admin, `${run}-receiver`, topics.conversations)) >= events.length,
    )
    // Creating the groups handed off membership changes: count only the messages' records.
    const fanoutSum = () => topicEnds(admin, topics.fanout)
    const fanoutBefore = await fanoutSum()
    const receiverStart = Date.now()
    await produce(topics.ingest)
    await waitFor(
      async () => (await committed(admin, `${run}-receiver`, topics.ingest)) >= MESSAGES,
    )
    const receiverSeconds = (Date.now() - receiverStart) / 1000
    await receiver.stop()
    await producer.disconnect()
    const fanoutRecords = (await fanoutSum()) - fanoutBefore
    await admin
      .deleteTopics({ topics: [...Object.values(topics), passIn, passOut] })
      .catch(() => {})

    const passRate = MESSAGES / passSeconds
    const receiverRate = MESSAGES / receiverSeconds
    const base = { label: 'runtime pass-through, exactly-once', value: passRate }
    const text = [
      `receiver: ${MESSAGES} messages, ${workload.groups.length} groups, average fan-out ${workload.averageFanOut.toFixed(1)}, ${PARTITIONS} partitions, one broker`,
      `  runtime pass-through, exactly-once (baseline)  ${Math.round(passRate)} messages/s`,
      `  receiver + fan-out by partition                 ${Math.round(receiverRate)} messages/s  = ${(receiverRate / passRate).toFixed(2)} x pass-through`,
      `  hand-off records per message                    ${(fanoutRecords / MESSAGES).toFixed(2)} (incl. transaction markers), vs ${workload.averageFanOut.toFixed(1)} recipients`,
    ].join('\n')
    return {
      text,
      figures: [
        { ...base, unit: 'messages/s' },
        against('receiver + fan-out by partition', receiverRate, 'messages/s', base),
        against('hand-off records per message', fanoutRecords / MESSAGES, 'records', {
          label: 'recipients per message',
          value: workload.averageFanOut,
        }),
      ],
    }
  })
}
