// Bad records a producer can write to an input topic, each with what imflow must answer:
// garbage, a truncated record, an unknown schema id, valid Avro of another schema, a huge
// value, an unknown enum symbol, a tombstone. Built from the topic's own codec, so each one is
// bad in exactly one way.

import avsc from 'avsc'
import { avroSchema } from '../../schemas/avro-schemas.js'
import type { EventCodec } from '../../schemas/codec.js'

export interface BadRecord {
  name: string
  value: Buffer | null
  /** The dead letter's error code. */
  code: string
}

/** A Confluent header: magic byte 0, then the schema id. */
function framed(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(schemaId, 1)
  return Buffer.concat([header, body])
}

/**
 * `value` in avsc's shape (records of a multi-record union wrapped by full name), written
 * with the event's schema but one more symbol in the enum `enumName`: as a producer with a
 * newer schema would write `ZZ_UNKNOWN`, framed with imflow's own schema id.
 */
export function unknownEnumSymbol(
  eventName: string,
  enumName: string,
  schemaId: number,
  value: unknown,
): Buffer {
  const schema = structuredClone(avroSchema(eventName)) as unknown
  // Arrays are objects too: their items are visited as values.
  const widen = (node: unknown): void => {
    if (!node || typeof node !== 'object') return
    const n = node as Record<string, unknown>
    if (n.type === 'enum' && n.name === enumName) (n.symbols as string[]).push('ZZ_UNKNOWN')
    for (const v of Object.values(n)) widen(v)
  }
  widen(schema)
  return framed(schemaId, avsc.Type.forSchema(schema as avsc.Schema).toBuffer(value))
}

export function badRecords<T>(
  codec: EventCodec<T>,
  sample: T,
  other: Buffer,
  unknownEnum?: Buffer,
): BadRecord[] {
  const good = codec.encode(sample)
  return [
    { name: 'garbage', value: Buffer.from('this is not avro at all'), code: 'IMF_ERR_NOT_AVRO' },
    { name: 'truncated', value: good.subarray(0, good.length - 4), code: 'IMF_ERR_DECODE' },
    {
      name: 'unknown schema id',
      value: framed(0x7ffffff0, good.subarray(5)),
      code: 'IMF_ERR_UNKNOWN_SCHEMA',
    },
    { name: 'another schema', value: other, code: 'IMF_ERR_DECODE' },
    {
      // Near the broker's 1 MB limit: its dead letter cannot carry it and says so.
      name: 'huge',
      value: framed(codec.schemaId, Buffer.alloc(900_000, 0xff)),
      code: 'IMF_ERR_DECODE',
    },
    ...(unknownEnum
      ? [{ name: 'unknown enum symbol', value: unknownEnum, code: 'IMF_ERR_DECODE' }]
      : []),
    { name: 'tombstone', value: null, code: 'IMF_ERR_DECODE' },
  ]
}
