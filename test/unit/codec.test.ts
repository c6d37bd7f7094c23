import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { avroSchemas } from '../../schemas/avro-schemas.js'
import { createEventCodec, readerType } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type { EventName, SendMessage } from '../../schemas/types.generated.js'
import { arbitraryFor } from '../support/avro-arbitrary.js'

const names = [...avroSchemas.keys()].filter(
  (n) => readerType(n as EventName).typeName === 'record',
) as EventName[]

describe('codec round trip (property)', () => {
  it.each(names)('%s: decode(encode(v)) equals v, with the Confluent header', async (name) => {
    const source = memorySchemaSource()
    const codec = await createEventCodec(source, `t-${name}-value`, name)
    await fc.assert(
      fc.asyncProperty(arbitraryFor(readerType(name)), async (value) => {
        const bytes = codec.encode(value as never)
        expect(bytes[0]).toBe(0)
        expect(bytes.readUInt32BE(1)).toBe(codec.schemaId)
        expect(await codec.decode(bytes)).toEqual(value)
      }),
      { numRuns: 200 },
    )
  })
})

describe('codec', () => {
  const message: SendMessage = {
    conversationId: 'c1',
    clientMsgId: 'k1',
    senderId: 'u1',
    type: 'TEXT',
    body: 'hello',
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    sentAt: 1_700_000_000_000,
  }

  it('gives variants a kind and accepts them back', async () => {
    const codec = await createEventCodec(memorySchemaSource(), 'receipts-value', 'Receipt')
    const receipt = {
      conversationId: 'c1',
      clientMsgId: 'k1',
      senderId: 'u1',
      decidedAt: 5,
      outcome: { kind: 'Rejected' as const, reason: 'MUTED' as const, detail: 'group is muted' },
    }
    const decoded = await codec.decode(codec.encode(receipt))
    expect(decoded.outcome.kind).toBe('Rejected')
    expect(decoded).toEqual(receipt)
  })

  it('decodes records of its own schema without asking the registry', async () => {
    const source = memorySchemaSource()
    const lookups: number[] = []
    const counted = {
      register: source.register,
      schemaById: (id: number) => {
        lookups.push(id)
        return source.schemaById(id)
      },
    }
    const codec = await createEventCodec(counted, 'ingest-value', 'SendMessage')
    expect(await codec.decode(codec.encode(message))).toEqual(message)
    expect(lookups).toEqual([])
  })

  it('refuses a value that does not fit, naming the field', async () => {
    const codec = await createEventCodec(memorySchemaSource(), 'ingest-value', 'SendMessage')
    expect(() => codec.encode({ ...message, type: 'VIDEO' as never })).toThrow(
      /IMF_ERR_ENCODE|does not fit its schema at type/,
    )
    try {
      codec.encode({ ...message, body: 42 as never })
    } catch (err) {
      expect(err).toMatchObject({ code: 'IMF_ERR_ENCODE' })
      expect((err as Error).message).toContain('at body')
    }
    expect.assertions(3)
  })

  it('refuses an unknown variant kind', async () => {
    const codec = await createEventCodec(memorySchemaSource(), 'receipts-value', 'Receipt')
    const bad = {
      conversationId: 'c',
      clientMsgId: 'k',
      senderId: 'u',
      decidedAt: 1,
      outcome: { kind: 'Lost' },
    }
    expect(() => codec.encode(bad as never)).toThrow(
      /kind "Lost" is not one of Accepted, Rejected, Throttled/,
    )
  })

  it('classifies bad bytes: not Avro, unknown schema id, undecodable body', async () => {
    const codec = await createEventCodec(memorySchemaSource(), 'ingest-value', 'SendMessage')
    const good = codec.encode(message)
    const cases: [Buffer, string][] = [
      [Buffer.from('hello world'), 'IMF_ERR_NOT_AVRO'],
      [Buffer.from([0, 0, 0]), 'IMF_ERR_NOT_AVRO'],
      [Buffer.concat([Buffer.from([1]), good.subarray(1)]), 'IMF_ERR_NOT_AVRO'],
      [Buffer.concat([Buffer.from([0, 0, 0, 0, 99]), good.subarray(5)]), 'IMF_ERR_UNKNOWN_SCHEMA'],
      [good.subarray(0, good.length - 4), 'IMF_ERR_DECODE'],
      [Buffer.concat([good, Buffer.from([1, 2, 3])]), 'IMF_ERR_DECODE'],
    ]
    for (const [bytes, code] of cases) {
      await expect(codec.decode(bytes)).rejects.toMatchObject({ code })
    }
  })

  it('decodes a record written with an older schema into the current shape (BACKWARD)', async () => {
    const source = memorySchemaSource()
    const older = {
      type: 'record',
      name: 'SendMessage',
      namespace: 'dev.imflow',
      fields: [
        { name: 'conversationId', type: 'string' },
        { name: 'clientMsgId', type: 'string' },
        { name: 'senderId', type: 'string' },
        {
          name: 'type',
          type: {
            type: 'enum',
            name: 'MessageType',
            symbols: ['TEXT', 'IMAGE', 'FILE', 'CARD', 'SYSTEM'],
          },
        },
        { name: 'body', type: 'string' },
        { name: 'sentAt', type: 'long' },
      ],
    }
    const olderId = await source.register('ingest-value', older)
    const { default: avsc } = await import('avsc')
    const body = avsc.Type.forSchema(older as never).toBuffer({ ...message })
    const header = Buffer.from([0, 0, 0, 0, olderId])
    const codec = await createEventCodec(source, 'ingest-value', 'SendMessage')
    expect(codec.schemaId).not.toBe(olderId)
    expect(await codec.decode(Buffer.concat([header, body]))).toEqual(message)
  })
})
