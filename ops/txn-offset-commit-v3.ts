// TxnOffsetCommit v3 on the wire (KIP-447: the offsets of a transaction carry the consumer
// group's generation, member id and group instance id, so the group coordinator refuses
// them from a member the group has moved past). kafkajs 2.2.4 speaks v0/v1 only.
//
// v3 is a flexible version (KIP-482): request header v2 (header v1 + tagged fields), compact
// strings and arrays (length + 1 as an unsigned varint, 0 = null), a tagged-field section at
// the end of every struct, and response header v1 (correlation id + tagged fields). Schema:
// apache/kafka clients/src/main/resources/common/message/TxnOffsetCommit{Request,Response}.json.
//
// kafkajs' Encoder/Decoder are used because its request layer only accepts its own Encoder;
// it writes header v1 itself, so the body starts with header v2's (empty) tagged fields, the
// way kafkajs' own flexible request (AlterPartitionReassignments v0) does. Its connection
// strips the correlation id and hands the rest, header tagged fields first, to decode().

import { createRequire } from 'node:module'

export const TXN_OFFSET_COMMIT_API_KEY = 28
export const TXN_OFFSET_COMMIT_FENCED_VERSION = 3

export interface GroupMetadata {
  groupId: string
  generationId: number
  memberId: string
  /** Static membership (KIP-345); kafkajs has none, so null from its consumers. */
  groupInstanceId: string | null
}

export interface OffsetTopic {
  topic: string
  partitions: { partition: number; offset: string; metadata?: string | null }[]
}

export interface TxnOffsetCommitV3Request extends GroupMetadata {
  transactionalId: string
  producerId: number | string
  producerEpoch: number
  topics: readonly OffsetTopic[]
}

export interface TxnOffsetCommitV3Response {
  throttleTime: number
  topics: { topic: string; partitions: { partition: number; errorCode: number }[] }[]
}

/** The part of kafkajs' Encoder this file writes with. */
export interface KafkaEncoder {
  readonly buffer: Buffer
  writeInt16(v: number): KafkaEncoder
  writeInt32(v: number): KafkaEncoder
  writeInt64(v: number | string): KafkaEncoder
  writeUVarInt(v: number): KafkaEncoder
  writeUVarIntString(v: string | null): KafkaEncoder
  writeUVarIntArray(v: KafkaEncoder[]): KafkaEncoder
}

/** The part of kafkajs' Decoder this file reads with. */
export interface KafkaDecoder {
  offset: number
  readInt16(): number
  readInt32(): number
  readInt64(): { toString(): string }
  readUVarInt(): number
  readUVarIntString(): string | null
  readUVarIntArray<T>(reader: (d: KafkaDecoder) => T): T[] | null
  canReadBytes(n: number): boolean
}

const require = createRequire(import.meta.url)
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => KafkaEncoder
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => KafkaDecoder

export function newEncoder(): KafkaEncoder {
  return new Encoder()
}

export function newDecoder(bytes: Buffer): KafkaDecoder {
  return new Decoder(bytes)
}

/** An empty tagged-field section: imflow sends no tagged fields. */
function noTaggedFields(e: KafkaEncoder): KafkaEncoder {
  return e.writeUVarInt(0)
}

/**
 * Skips a tagged-field section. Not kafkajs' readTaggedFields(): it reads each field's size
 * as a compact length (size + 1), while a tagged field's size is written as is.
 */
export function skipTaggedFields(d: KafkaDecoder): void {
  const count = d.readUVarInt()
  for (let i = 0; i < count; i++) {
    d.readUVarInt() // tag
    const size = d.readUVarInt()
    if (!d.canReadBytes(size)) throw new RangeError(`tagged field of ${size} bytes past the end`)
    d.offset += size
  }
}

/** The request body, preceded by request header v2's tagged fields. */
export function encodeTxnOffsetCommitV3(request: TxnOffsetCommitV3Request): KafkaEncoder {
  const e = noTaggedFields(newEncoder()) // request header v2
  e.writeUVarIntString(request.transactionalId)
    .writeUVarIntString(request.groupId)
    .writeInt64(request.producerId)
    .writeInt16(request.producerEpoch)
    .writeInt32(request.generationId)
    .writeUVarIntString(request.memberId)
    .writeUVarIntString(request.groupInstanceId)
    .writeUVarIntArray(request.topics.map(encodeTopic))
  return noTaggedFields(e)
}

function encodeTopic({ topic, partitions }: OffsetTopic): KafkaEncoder {
  const e = newEncoder()
    .writeUVarIntString(topic)
    .writeUVarIntArray(partitions.map(encodePartition))
  return noTaggedFields(e)
}

function encodePartition(p: OffsetTopic['partitions'][number]): KafkaEncoder {
  const e = newEncoder()
    .writeInt32(p.partition)
    .writeInt64(p.offset)
    .writeInt32(-1) // committed leader epoch: unknown, as kafkajs tracks none
    .writeUVarIntString(p.metadata ?? null)
  return noTaggedFields(e)
}

/** The response after its correlation id: header v1's tagged fields, then the body. */
export function decodeTxnOffsetCommitV3Response(bytes: Buffer): TxnOffsetCommitV3Response {
  const d = newDecoder(bytes)
  skipTaggedFields(d) // response header v1
  const throttleTime = d.readInt32()
  const topics = d.readUVarIntArray((t) => {
    const topic = t.readUVarIntString() ?? ''
    const partitions =
      t.readUVarIntArray((p) => {
        const partition = { partition: p.readInt32(), errorCode: p.readInt16() }
        skipTaggedFields(p)
        return partition
      }) ?? []
    skipTaggedFields(t)
    return { topic, partitions }
  })
  skipTaggedFields(d)
  return { throttleTime, topics: topics ?? [] }
}
