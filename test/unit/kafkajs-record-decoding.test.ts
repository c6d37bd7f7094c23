// The fetched-record decoder that replaces kafkajs' (ops/kafkajs-record-decoding.ts): the same
// record as kafkajs 2.2.4 decodes, for keys, values and headers present or not (a header
// repeated), timestamp deltas small, negative and past 2^49, offsets and
// timestamps past 2^53, log-append time and control batches.

import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { decodeRecord, recordDecodingFixed } from '../../ops/kafkajs-record-decoding.js'
import { kafkajsOriginal } from './kafkajs-original.js'

const require = createRequire(import.meta.url)
const PATH = 'kafkajs/src/protocol/recordBatch/record/v0/decoder.js'
const Decoder = require('kafkajs/src/protocol/decoder') as new (
  b: Buffer,
) => Parameters<typeof decodeRecord>[0]
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: {
  offsetDelta: number
  timestampDelta: number | bigint
  key: Buffer | null
  value: Buffer | null
  headers?: Record<string, unknown>
}) => { buffer: Buffer }

type KafkaRecord = Parameters<typeof encodeRecord>[0]
type Context = NonNullable<Parameters<typeof decodeRecord>[1]>

/** Decodes one encoded record with `decode`, as kafkajs' batch decoder hands it over. */
function decodeWith(decode: typeof decodeRecord, record: KafkaRecord, context: Context) {
  const decoder = new Decoder(encodeRecord(record).buffer)
  decoder.readVarInt() // its length: the batch decoder reads it
  const decoded = decode(decoder, context)
  return { decoded, rest: decoder.buffer.length - decoder.offset }
}

const protoHeader: KafkaRecord['headers'] = {}
Object.defineProperty(protoHeader, '__proto__', { value: Buffer.from('p'), enumerable: true })

const records: KafkaRecord[] = [
  { offsetDelta: 0, timestampDelta: 0, key: null, value: null },
  { offsetDelta: 7, timestampDelta: 12, key: Buffer.from('k'), value: Buffer.from('v') },
  { offsetDelta: 300, timestampDelta: -5_000, key: Buffer.alloc(0), value: Buffer.alloc(200) },
  { offsetDelta: 1, timestampDelta: 2 ** 49 + 3, key: null, value: Buffer.from('far') },
  { offsetDelta: 2, timestampDelta: -(2 ** 52), key: null, value: null },
  { offsetDelta: 3, timestampDelta: 2n ** 62n, key: null, value: null },
  {
    offsetDelta: 4,
    timestampDelta: 1,
    key: Buffer.from('h'),
    value: Buffer.from('h'),
    headers: {
      a: Buffer.from('1'),
      'b-ü': [Buffer.from('2'), Buffer.from('three'), Buffer.alloc(0)],
    },
  },
]

const contexts: Context[] = [
  { firstOffset: '0', firstTimestamp: '1764000000000', magicByte: 2, timestampType: 0 },
  { firstOffset: '123456789', firstTimestamp: '1764000000000', magicByte: 2, timestampType: 0 },
  {
    firstOffset: '9007199254740990',
    firstTimestamp: '9007199254740000',
    magicByte: 2,
    timestampType: 0,
  },
  {
    firstOffset: '42',
    firstTimestamp: '1764000000000',
    magicByte: 2,
    timestampType: 1,
    maxTimestamp: '1764000009999',
  },
  {
    firstOffset: '43',
    firstTimestamp: '-1',
    magicByte: 2,
    timestampType: 0,
    isControlBatch: true,
  },
]

describe('kafkajs record decoding', () => {
  it('is the one kafkajs consumers use (primed before kafkajs loaded)', () => {
    expect(recordDecodingFixed()).toBe(true)
  })

  it('decodes each record as kafkajs does, and reads as far', () => {
    const kafkajs = kafkajsOriginal<typeof decodeRecord>(PATH)
    expect(kafkajs).not.toBe(decodeRecord)
    for (const context of contexts)
      for (const record of records) {
        const ours = decodeWith(decodeRecord, record, context)
        const theirs = decodeWith(kafkajs, record, context)
        expect(ours).toEqual(theirs)
        expect(Object.keys(ours.decoded.headers)).toEqual(Object.keys(theirs.decoded.headers))
        expect(Object.getPrototypeOf(ours.decoded.headers)).toBe(Object.prototype)
      }
  })

  it('keeps a header named __proto__ as its value (kafkajs makes it [Object.prototype, value])', () => {
    const { decoded } = decodeWith(
      decodeRecord,
      { offsetDelta: 5, timestampDelta: 2, key: null, value: null, headers: protoHeader },
      contexts[0] as Context,
    )
    expect(Object.hasOwn(decoded.headers, '__proto__')).toBe(true)
    expect(Object.getOwnPropertyDescriptor(decoded.headers, '__proto__')?.value).toEqual(
      Buffer.from('p'),
    )
    expect(Object.getPrototypeOf(decoded.headers)).toBe(Object.prototype)
  })

  it('adds past 2^53 exactly', () => {
    const { decoded } = decodeWith(
      decodeRecord,
      { offsetDelta: 9, timestampDelta: 20, key: null, value: null },
      contexts[2] as Context,
    )
    expect(decoded.offset).toBe('9007199254740999')
    expect(decoded.timestamp).toBe('9007199254740020')
  })
})
