// kafkajs encodes a produce request record by record through small encoders: every varint is a
// `Buffer.from([...])` copied into a growing buffer, every record a buffer of its own, and the
// batch's timestamps are sorted (as strings) to find the first and the last. In a CPU profile
// of the app under the soak's load that was 13% of the main thread. The same request, the same
// bytes (test/unit/kafkajs-produce-encoding.test.ts compares them with kafkajs' own), with an
// uncompressed batch written once into one buffer; compressed batches go through kafkajs'
// record encoders as before. Put in kafkajs' place before it loads (ops/kafkajs-fixes.ts):
// produce v4 to v7 are v3 with another version number.

import { createRequire } from 'node:module'
import { isPrimed, prime } from './kafkajs-prime.js'

const require = createRequire(import.meta.url)
const MODULE = 'kafkajs/src/protocol/requests/produce/v3/request.js'

interface KafkajsEncoder {
  buffer: Buffer
  size(): number
  writeInt8(v: number): KafkajsEncoder
  writeInt16(v: number): KafkajsEncoder
  writeInt32(v: number): KafkajsEncoder
  writeUInt32(v: number): KafkajsEncoder
  writeInt64(v: unknown): KafkajsEncoder
  writeString(v: string | null): KafkajsEncoder
  writeBytes(v: Buffer): KafkajsEncoder
  writeBuffer(v: Buffer): KafkajsEncoder
  writeEncoder(v: KafkajsEncoder): KafkajsEncoder
  writeArray(v: unknown[]): KafkajsEncoder
}

const Encoder = require('kafkajs/src/protocol/encoder') as new () => KafkajsEncoder
const Long = require('kafkajs/src/utils/long') as { fromInt(n: number): unknown }
const { Produce: apiKey } = require('kafkajs/src/protocol/requests/apiKeys') as { Produce: number }
const { Types } = require('kafkajs/src/protocol/message/compression') as {
  Types: { None: number }
}
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  r: unknown,
) => unknown
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch(args: Record<string, unknown>): Promise<KafkajsEncoder>
}
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number

type Bytes = Buffer | string | null | undefined

interface Message {
  key?: Bytes
  value: Bytes
  headers?: Record<string, Bytes | Bytes[]>
  timestamp?: string | number | null
}

interface PartitionData {
  partition: number
  messages: Message[]
  firstSequence?: number
}

interface RequestArgs {
  acks: number
  timeout: number
  transactionalId?: string | null
  producerId?: unknown
  producerEpoch?: number
  compression?: number
  topicData: { topic: string; partitions: PartitionData[] }[]
}

const MAGIC_BYTE = 2
const TRANSACTIONAL = 16

/** Bytes of an unsigned LEB128 varint. */
function uvarintSize(n: number): number {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    size++
  }
  return size
}

/** Zig-zag, for integers within Number's safe range (kafkajs: 32-bit varints, 64-bit varlongs). */
const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1)

function writeUVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  buf[at++] = n
  return at
}

function byteLength(b: Bytes): number {
  if (b == null) return -1
  return Buffer.isBuffer(b) ? b.length : Buffer.byteLength(String(b))
}

function writeBytes(buf: Buffer, at: number, b: Bytes, length: number): number {
  at = writeUVarint(buf, at, zigzag(length))
  if (length <= 0) return at
  if (Buffer.isBuffer(b)) return at + b.copy(buf, at)
  return at + buf.write(String(b), at, length, 'utf8')
}

/** A message's headers as kafkajs flattens them: one per value, arrays spread. */
function headerList(headers: Message['headers']): [string, Bytes][] {
  const list: [string, Bytes][] = []
  if (!headers) return list
  for (const key of Object.keys(headers)) {
    const value = headers[key]
    if (Array.isArray(value)) for (const v of value) list.push([key, v])
    else list.push([key, value])
  }
  return list
}

/** An uncompressed batch's records, each `Length Attributes TimestampDelta OffsetDelta Key Value Headers`. */
function encodeRecords(messages: readonly Message[], firstTimestamp: number, now: number): Buffer {
  const sizes: number[] = new Array(messages.length)
  const headers: [string, Bytes][][] = new Array(messages.length)
  const deltas: number[] = new Array(messages.length)
  let total = 0
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message
    const delta = zigzag(Number(m.timestamp || now) - firstTimestamp)
    const list = headerList(m.headers)
    let body = 1 + uvarintSize(delta) + uvarintSize(zigzag(i))
    const key = byteLength(m.key)
    const value = byteLength(m.value)
    body += uvarintSize(zigzag(key)) + Math.max(key, 0)
    body += uvarintSize(zigzag(value)) + Math.max(value, 0)
    body += uvarintSize(zigzag(list.length))
    for (const [k, v] of list) {
      const kl = Buffer.byteLength(k)
      const vl = byteLength(v)
      body += uvarintSize(zigzag(kl)) + kl + uvarintSize(zigzag(vl)) + Math.max(vl, 0)
    }
    sizes[i] = body
    headers[i] = list
    deltas[i] = delta
    total += uvarintSize(zigzag(body)) + body
  }
  const buf = Buffer.allocUnsafe(total)
  let at = 0
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message
    at = writeUVarint(buf, at, zigzag(sizes[i] as number))
    buf[at++] = 0 // attributes: none per record
    at = writeUVarint(buf, at, deltas[i] as number)
    at = writeUVarint(buf, at, zigzag(i))
    at = writeBytes(buf, at, m.key, byteLength(m.key))
    at = writeBytes(buf, at, m.value, byteLength(m.value))
    const list = headers[i] as [string, Bytes][]
    at = writeUVarint(buf, at, zigzag(list.length))
    for (const [k, v] of list) {
      at = writeBytes(buf, at, k, Buffer.byteLength(k))
      at = writeBytes(buf, at, v, byteLength(v))
    }
  }
  return buf
}

/** The batch's first and last timestamps, as kafkajs takes them (messages without one: now). */
function timestampRange(messages: readonly Message[], now: number) {
  // kafkajs sorts them as strings; for the same number of digits that is their order.
  let first: string | number | undefined
  let last: string | number | undefined
  for (const m of messages) {
    const t = m.timestamp
    if (t == null) continue
    if (first === undefined || String(t) < String(first)) first = t
    if (last === undefined || String(t) > String(last)) last = t
  }
  return { first: first ?? now, last: last ?? now }
}

const partitionEncoder =
  (compression: number, transactionalId: string | null, producerId: unknown, epoch: number) =>
  async ({ partition, messages, firstSequence }: PartitionData): Promise<KafkajsEncoder> => {
    const now = Date.now()
    const { first, last } = timestampRange(messages, now)
    const batchArgs = {
      compression,
      firstTimestamp: first,
      maxTimestamp: last,
      producerId,
      producerEpoch: epoch,
      firstSequence,
      transactional: !!transactionalId,
      lastOffsetDelta: messages.length - 1,
    }
    let recordBatch: KafkajsEncoder
    if (compression !== Types.None) {
      const records = messages.map((message, i) =>
        encodeRecord({
          ...message,
          offsetDelta: i,
          timestampDelta: Number(message.timestamp || now) - Number(first),
        }),
      )
      recordBatch = await RecordBatch({ ...batchArgs, records })
    } else {
      const body = new Encoder()
        .writeInt16(transactionalId ? TRANSACTIONAL : 0)
        .writeInt32(messages.length - 1)
        .writeInt64(first)
        .writeInt64(last)
        .writeInt64(producerId)
        .writeInt16(epoch)
        .writeInt32(firstSequence ?? 0)
        .writeInt32(messages.length)
        .writeBuffer(encodeRecords(messages, Number(first), now)).buffer
      const batch = new Encoder()
        .writeInt32(0) // partition leader epoch
        .writeInt8(MAGIC_BYTE)
        .writeUInt32(crc32C(body))
        .writeBuffer(body).buffer
      recordBatch = new Encoder().writeInt64(Long.fromInt(0)).writeBytes(batch)
    }
    return new Encoder()
      .writeInt32(partition)
      .writeInt32(recordBatch.size())
      .writeEncoder(recordBatch)
  }

/** kafkajs' produce request v3 (and so v4-v7), its module's export. */
export function produceRequestV3({
  acks,
  timeout,
  transactionalId = null,
  producerId = Long.fromInt(-1),
  producerEpoch = 0,
  compression = Types.None,
  topicData,
}: RequestArgs) {
  return {
    apiKey,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async () => {
      const encodePartition = partitionEncoder(
        compression,
        transactionalId,
        producerId,
        producerEpoch,
      )
      const topics: KafkajsEncoder[] = []
      for (const { topic, partitions } of topicData) {
        const encoded: KafkajsEncoder[] = []
        for (const data of partitions) encoded.push(await encodePartition(data))
        topics.push(new Encoder().writeString(topic).writeArray(encoded))
      }
      return new Encoder()
        .writeString(transactionalId)
        .writeInt16(acks)
        .writeInt32(timeout)
        .writeArray(topics)
    },
  }
}

prime(MODULE, produceRequestV3)

/** Whether kafkajs encodes produce requests with this module (false: kafkajs was loaded first). */
export function produceEncodingFixed(): boolean {
  return isPrimed(MODULE, produceRequestV3)
}
