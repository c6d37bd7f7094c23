// The receiver inside `imflow start` (in-process, on the shared broker and registry): Avro
// send-message events on im.ingest get receipts on im.receipts — accepted with stable msgIds,
// rejected with reasons — and garbage goes to im.dead-letter while the partition flows on.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningApp } from '../../ops/app/app.js'
import { type ContractCodecs, registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type {
  ConversationEvent,
  DeadLetter,
  Receipt,
  SendMessage,
} from '../../schemas/types.generated.js'
import { eventually, startTestApp, testKafka, unique } from './helpers.js'
import { committedSum } from './runtime-support.js'

describe('receiver end to end over im.ingest', () => {
  const prefix = `${unique('rcv')}.`
  const kafka = testKafka()
  let app: RunningApp
  let stop: () => Promise<void>
  let codecs: ContractCodecs

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, { IMFLOW_UNIT: '3' }))
    codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), prefix)
  })
  afterAll(() => stop?.())

  it('answers every input with a receipt, dead-letters garbage, and dedupes retries', async () => {
    const now = Date.now()
    const created: ConversationEvent = {
      conversationId: 'team',
      actorId: 'admin',
      at: now,
      change: {
        kind: 'ConversationCreated',
        conversationType: 'GROUP',
        members: ['ann', 'ben', 'cy'],
        admins: ['ann'],
        unit: '',
      },
    }
    const send = (over: Partial<SendMessage>): SendMessage => ({
      conversationId: 'team',
      clientMsgId: 'm1',
      senderId: 'ben',
      type: 'TEXT',
      body: 'hi team',
      priority: 'HIGH',
      visibility: 'NORMAL',
      targets: [],
      sentAt: now,
      ...over,
    })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: `${prefix}im.conversations`,
      messages: [{ key: 'team', value: codecs['im.conversations'].encode(created) }],
    })
    // Membership first: the receiver reads both topics, so wait until it has taken the event in.
    await eventually(
      async () =>
        (await committedSum(kafka, `${prefix}imflow-receiver`, `${prefix}im.conversations`)) > 0
          ? true
          : undefined,
      { what: 'the conversation event to be processed' },
    )
    await producer.send({
      topic: `${prefix}im.ingest`,
      messages: [
        { key: 'team', value: codecs['im.ingest'].encode(send({})) },
        { key: 'team', value: Buffer.from('definitely not avro') },
        {
          key: 'team',
          value: codecs['im.ingest'].encode(send({ senderId: 'eve', clientMsgId: 'e1' })),
        },
        { key: 'team', value: codecs['im.ingest'].encode(send({})) }, // a producer retry
        {
          key: 'team',
          value: codecs['im.ingest'].encode(send({ clientMsgId: 'm2', body: 'x'.repeat(70_000) })),
        },
      ],
    })
    await producer.disconnect()

    const receipts: Receipt[] = []
    const letters: DeadLetter[] = []
    const consumer = kafka.consumer({ groupId: unique('rcv-reader'), readUncommitted: false })
    await consumer.connect()
    await consumer.subscribe({
      topics: [`${prefix}im.receipts`, `${prefix}im.dead-letter`],
      fromBeginning: true,
    })
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        if (!message.value) return
        if (topic.endsWith('im.receipts'))
          receipts.push(await codecs['im.receipts'].decode(message.value))
        else letters.push(await codecs['im.dead-letter'].decode(message.value))
      },
    })
    try {
      await eventually(() => (receipts.length >= 4 && letters.length >= 1 ? true : undefined), {
        timeoutMs: 60_000,
        what: '4 receipts and 1 dead letter',
      })
    } finally {
      await consumer.disconnect()
    }
    // Receipts are keyed by sender: order holds per sender, not across them.
    const of = (sender: string, clientMsgId: string) =>
      receipts
        .filter((r) => r.senderId === sender && r.clientMsgId === clientMsgId)
        .map((r) => r.outcome)
    const [first, retry] = of('ben', 'm1')
    const [rejected] = of('eve', 'e1')
    const [tooLarge] = of('ben', 'm2')
    expect(first?.kind).toBe('Accepted')
    expect(retry).toEqual(first)
    expect(rejected).toMatchObject({ kind: 'Rejected', reason: 'NOT_MEMBER' })
    expect(tooLarge).toMatchObject({ kind: 'Rejected', reason: 'TOO_LARGE' })
    expect(receipts).toHaveLength(4)
    expect(letters[0]).toMatchObject({
      errorCode: 'IMF_ERR_NOT_AVRO',
      sourceTopic: `${prefix}im.ingest`,
      stage: 'decode',
    })
    expect(letters[0]?.value?.toString()).toBe('definitely not avro')
    const metrics = await fetch(`${app.url}/metrics`).then((r) => r.text())
    expect(metrics).toMatch(
      /imflow_task_records_in_total\{topology="receiver",partition="\d"\} [1-9]/,
    )
    expect(metrics).toContain('imflow_task_dead_letters_total{topology="receiver"} 1')
    // One accepted normal message: one write to the conversation's log.
    expect(metrics).toContain(
      'imflow_store_writes_total{topology="receiver",store="conversation-messages"} 1',
    )
  })
})
