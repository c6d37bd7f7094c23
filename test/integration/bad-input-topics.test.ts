// Bad input on every input topic of a running imflow (one partition each, so a stalled
// partition would hold up the good record behind it): garbage, truncated records, unknown
// schema ids, valid Avro of another schema, huge values, unknown enum symbols and tombstones
// each get a dead letter from every topology that reads the topic, records without a key are
// processed by their value, and the good records after them are processed.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type ContractCodecs, registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type {
  Action,
  ConversationEvent,
  DeadLetter,
  DeviceEvent,
  Receipt,
  SendMessage,
  UserEvent,
} from '../../schemas/types.generated.js'
import { GlobalTable } from '../../topologies/runtime/index.js'
import { type BadRecord, badRecords, unknownEnumSymbol } from './bad-records.js'
import { eventually, startTestApp, testKafka, unique, withAdmin } from './helpers.js'
import { committedSum } from './runtime-support.js'

describe('bad input on every input topic', () => {
  const prefix = `${unique('bad')}.`
  const kafka = testKafka()
  const topic = (base: string) => `${prefix}${base}`
  let stop: () => Promise<void>
  let codecs: ContractCodecs

  beforeAll(async () => {
    ;({ stop } = await startTestApp(prefix, { IMFLOW_PARTITIONS: '1' }))
    codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), prefix)
  })
  afterAll(() => stop?.())

  it('dead-letters each bad record once per reader and keeps every partition flowing', async () => {
    const now = Date.now()
    const created: ConversationEvent = {
      conversationId: 'team',
      actorId: 'admin',
      at: now,
      change: {
        kind: 'ConversationCreated',
        conversationType: 'GROUP',
        members: ['ann', 'ben'],
        admins: ['ann'],
        unit: '',
      },
    }
    const message = (clientMsgId: string): SendMessage => ({
      conversationId: 'team',
      clientMsgId,
      senderId: 'ben',
      type: 'TEXT',
      body: `body of ${clientMsgId}`,
      priority: 'HIGH',
      visibility: 'NORMAL',
      targets: [],
      sentAt: now,
    })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: topic('im.conversations'),
      messages: [{ key: 'team', value: codecs['im.conversations'].encode(created) }],
    })
    await producer.send({
      topic: topic('im.ingest'),
      messages: [{ key: 'team', value: codecs['im.ingest'].encode(message('first')) }],
    })

    const receipts: Receipt[] = []
    const letters: DeadLetter[] = []
    const reader = kafka.consumer({ groupId: unique('bad-reader') })
    await reader.connect()
    await reader.subscribe({
      topics: [topic('im.receipts'), topic('im.dead-letter')],
      fromBeginning: true,
    })
    await reader.run({
      eachMessage: async ({ topic: from, message: m }) => {
        if (!m.value) return
        if (from === topic('im.receipts'))
          receipts.push(await codecs['im.receipts'].decode(m.value))
        else letters.push(await codecs['im.dead-letter'].decode(m.value))
      },
    })
    const table = await GlobalTable.start(
      kafka,
      topic('im.users'),
      (b) => codecs['im.users'].decode(b),
      (u: UserEvent) => u.userId,
    )
    try {
      const firstId = await eventually(
        () => {
          const r = receipts.find((x) => x.clientMsgId === 'first')?.outcome
          return r?.kind === 'Accepted' ? r.msgId : undefined
        },
        { timeoutMs: 90_000, what: 'the first message to be accepted' },
      )

      // Another schema's valid Avro: a dead letter, which no input topic's reader can read.
      const other = codecs['im.dead-letter'].encode({
        sourceTopic: 'elsewhere',
        sourcePartition: 0,
        sourceOffset: 0,
        key: null,
        value: null,
        headers: [],
        errorCode: 'IMF_ERR_DECODE',
        errorMessage: 'not an input event',
        stage: 'decode',
        application: 'a producer',
        failedAt: now,
      })
      const action: Action = {
        conversationId: 'team',
        userId: 'ben',
        at: now,
        action: { kind: 'ReadReceipt', upToMsgId: firstId },
      }
      const device: DeviceEvent = {
        userId: 'ann',
        deviceId: 'phone',
        at: now,
        event: { kind: 'LoggedIn', lastPts: 0, deviceClass: 'MOBILE', gateway: '' },
      }
      const user: UserEvent = { userId: 'ann', geo: 'local', at: now }
      const cases: Record<
        string,
        { bad: BadRecord[]; good: Buffer; key: string; keyless?: Buffer }
      > = {
        'im.ingest': {
          bad: badRecords(
            codecs['im.ingest'],
            message('bad'),
            other,
            unknownEnumSymbol('SendMessage', 'MessageType', codecs['im.ingest'].schemaId, {
              ...message('enum'),
              type: 'ZZ_UNKNOWN',
            }),
          ),
          good: codecs['im.ingest'].encode(message('after')),
          key: 'team',
          keyless: codecs['im.ingest'].encode(message('keyless')),
        },
        'im.conversations': {
          bad: badRecords(
            codecs['im.conversations'],
            created,
            other,
            unknownEnumSymbol(
              'ConversationEvent',
              'ConversationType',
              codecs['im.conversations'].schemaId,
              {
                conversationId: 'team',
                actorId: 'admin',
                at: now,
                change: {
                  'dev.imflow.ConversationCreated': {
                    conversationType: 'ZZ_UNKNOWN',
                    members: ['eve'],
                    admins: [],
                    unit: '',
                  },
                },
              },
            ),
          ),
          good: codecs['im.conversations'].encode({
            conversationId: 'team',
            actorId: 'admin',
            at: now,
            change: { kind: 'MembersAdded', userIds: ['cy'] },
          }),
          key: 'team',
        },
        'im.actions': {
          bad: badRecords(
            codecs['im.actions'],
            action,
            other,
            unknownEnumSymbol('Action', 'ReactionOp', codecs['im.actions'].schemaId, {
              conversationId: 'team',
              userId: 'ben',
              at: now,
              action: {
                'dev.imflow.ReactionChanged': { msgId: firstId, emoji: 'x', op: 'ZZ_UNKNOWN' },
              },
            }),
          ),
          good: codecs['im.actions'].encode(action),
          key: 'team',
          keyless: codecs['im.actions'].encode(action),
        },
        'im.device-events': {
          bad: badRecords(
            codecs['im.device-events'],
            device,
            other,
            unknownEnumSymbol('DeviceEvent', 'DeviceClass', codecs['im.device-events'].schemaId, {
              userId: 'ann',
              deviceId: 'phone',
              at: now,
              event: {
                'dev.imflow.LoggedIn': { lastPts: 0, deviceClass: 'ZZ_UNKNOWN', gateway: '' },
              },
            }),
          ),
          good: codecs['im.device-events'].encode(device),
          key: 'ann',
          keyless: codecs['im.device-events'].encode(device),
        },
        // No enum in a UserEvent; a tombstone there deletes a user's geo (a compacted topic).
        'im.users': {
          bad: badRecords(codecs['im.users'], user, other).filter((b) => b.name !== 'tombstone'),
          good: codecs['im.users'].encode(user),
          key: 'ann',
        },
      }
      const readers: Record<string, string[]> = {
        'im.ingest': ['receiver'],
        'im.conversations': ['receiver', 'merge'],
        'im.actions': ['receiver', 'merge'],
        'im.device-events': ['sync'],
        'im.users': ['receiver'],
      }
      const firstBad = new Map<string, number>()
      for (const [base, c] of Object.entries(cases)) {
        const ends = await withAdmin((a) => a.fetchTopicOffsets(topic(base)))
        firstBad.set(base, Number(ends[0]?.high ?? 0))
        await producer.send({
          topic: topic(base),
          messages: [
            ...c.bad.map((b) => ({ key: 'k', value: b.value, headers: { case: b.name } })),
            // Compacted topics refuse records without a key; the others take them.
            ...(c.keyless ? [{ key: null, value: c.keyless }] : []),
            { key: c.key, value: c.good },
          ],
        })
      }
      await producer.disconnect()
      const expected = Object.entries(cases).reduce(
        (n, [base, c]) => n + c.bad.length * (readers[base]?.length ?? 0),
        0,
      )
      // Every partition flowed on: each reading group committed past the good record.
      for (const [base, groups] of Object.entries(readers)) {
        const end = Number((await withAdmin((a) => a.fetchTopicOffsets(topic(base))))[0]?.high)
        for (const group of groups) {
          await eventually(
            async () =>
              (await committedSum(kafka, `${prefix}imflow-${group}`, topic(base))) === end
                ? true
                : undefined,
            { timeoutMs: 60_000, what: `${group} to commit ${base} to its end (${end})` },
          )
        }
      }
      // Dead letters commit with the records, before the offsets: all there now, or missing.
      await eventually(() => (letters.length >= expected ? true : undefined), {
        timeoutMs: 10_000,
        what: `${expected} dead letters`,
      }).catch(() => {})
      await eventually(() => (receipts.some((r) => r.clientMsgId === 'after') ? true : undefined), {
        what: 'the good message after the bad ones',
      })
      await eventually(() => table.get('ann')?.geo, { what: 'the good user event' })

      for (const [base, c] of Object.entries(cases)) {
        const from = firstBad.get(base) ?? 0
        for (const [i, b] of c.bad.entries()) {
          const mine = letters.filter(
            (l) => l.sourceTopic === topic(base) && l.sourceOffset === from + i,
          )
          expect(mine.map((l) => l.application.split('/')[1]).sort(), `${base}: ${b.name}`).toEqual(
            [...(readers[base] ?? [])].sort(),
          )
          for (const l of mine) {
            expect(l.errorCode, `${base}: ${b.name}`).toBe(b.code)
            expect(l.headers.find((h) => h.key === 'case')?.value?.toString()).toBe(b.name)
            if (b.value && b.value.length < 1_000) expect(l.value?.equals(b.value)).toBe(true)
          }
        }
      }
      expect(letters).toHaveLength(expected)
      const outcome = (id: string) => receipts.find((r) => r.clientMsgId === id)?.outcome.kind
      expect([outcome('keyless'), outcome('after')]).toEqual(['Accepted', 'Accepted'])
      // Only the good ones and the keyless one were decided: bad records get no receipt.
      expect(receipts.map((r) => r.clientMsgId).sort()).toEqual(['after', 'first', 'keyless'])
    } finally {
      await Promise.all([reader.disconnect(), table.stop()])
    }
  }, 400_000)
})
