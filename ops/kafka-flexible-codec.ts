// Encoding Kafka's flexible versions (KIP-482) with kafkajs' own Encoder/Decoder, for the
// requests imflow adds to kafkajs (ops/txn-offset-commit-v3.ts, ops/offset-fetch-v7.ts):
// request header v2 (header v1 + tagged fields), compact strings and arrays (length + 1 as
// an unsigned varint, 0 = null), a tagged-field section at the end of every struct, and
// response header v1 (correlation id + tagged fields).
//
// kafkajs' Encoder is used because its request layer only accepts its own Encoder; it
// writes header v1 itself, so a body starts with header v2's (empty) tagged fields, the way
// kafkajs' own flexible request (AlterPartitionReassignments v0) does. Its connection strips
// the correlation id and hands the rest, header tagged fields first, to decode().

import { createRequire } from 'node:module'

/** The part of kafkajs' Encoder imflow writes with. */
export interface KafkaEncoder {
  readonly buffer: Buffer
  writeBoolean(v: boolean): KafkaEncoder
  writeInt16(v: number): KafkaEncoder
  writeInt32(v: number): KafkaEncoder
  writeInt64(v: number | string): KafkaEncoder
  writeUVarInt(v: number): KafkaEncoder
  writeUVarIntString(v: string | null): KafkaEncoder
  writeUVarIntArray(v: KafkaEncoder[] | null): KafkaEncoder
}

/** The part of kafkajs' Decoder imflow reads with. */
export interface KafkaDecoder {
  offset: number
  readBoolean(): boolean
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
export function noTaggedFields(e: KafkaEncoder): KafkaEncoder {
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
