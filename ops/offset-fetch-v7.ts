// OffsetFetch v7 on the wire (KIP-447: `require_stable` makes the group coordinator answer
// UNSTABLE_OFFSET_COMMIT for a partition whose offsets a transaction has sent but not yet
// ended, instead of the offset committed before it). kafkajs 2.2.4 speaks v1-v4 only.
//
// v7 is a flexible version (KIP-482), written with ops/kafka-flexible-codec.ts. v8 and later
// ask for many groups at once (a groups array) and add nothing imflow needs. Schema:
// apache/kafka clients/src/main/resources/common/message/OffsetFetch{Request,Response}.json.

import {
  type KafkaDecoder,
  type KafkaEncoder,
  newDecoder,
  newEncoder,
  noTaggedFields,
  skipTaggedFields,
} from './kafka-flexible-codec.js'

export const OFFSET_FETCH_API_KEY = 9
export const OFFSET_FETCH_STABLE_VERSION = 7

export interface OffsetFetchV7Request {
  groupId: string
  /** null: every topic the group has offsets for. */
  topics: readonly { topic: string; partitions: readonly { partition: number }[] }[] | null
  requireStable: boolean
}

/** kafkajs' shape of an OffsetFetch response (v2-v4), so its own parse() applies. */
export interface OffsetFetchResponse {
  throttleTime: number
  responses: {
    topic: string
    partitions: { partition: number; offset: string; metadata: string | null; errorCode: number }[]
  }[]
  errorCode: number
}

/** The request body, preceded by request header v2's tagged fields. */
export function encodeOffsetFetchV7(request: OffsetFetchV7Request): KafkaEncoder {
  const e = noTaggedFields(newEncoder()) // request header v2
  e.writeUVarIntString(request.groupId)
    .writeUVarIntArray(request.topics?.map(encodeTopic) ?? null)
    .writeBoolean(request.requireStable)
  return noTaggedFields(e)
}

function encodeTopic({ topic, partitions }: NonNullable<OffsetFetchV7Request['topics']>[number]) {
  const e = newEncoder()
    .writeUVarIntString(topic)
    .writeUVarIntArray(partitions.map((p) => newEncoder().writeInt32(p.partition)))
  return noTaggedFields(e)
}

/** The response after its correlation id: header v1's tagged fields, then the body. */
export function decodeOffsetFetchV7Response(bytes: Buffer): OffsetFetchResponse {
  const d = newDecoder(bytes)
  skipTaggedFields(d) // response header v1
  const throttleTime = d.readInt32()
  const responses = d.readUVarIntArray((t) => {
    const topic = t.readUVarIntString() ?? ''
    const partitions = t.readUVarIntArray(decodePartition) ?? []
    skipTaggedFields(t)
    return { topic, partitions }
  })
  const errorCode = d.readInt16()
  skipTaggedFields(d)
  return { throttleTime, responses: responses ?? [], errorCode }
}

function decodePartition(p: KafkaDecoder) {
  const partition = p.readInt32()
  const offset = p.readInt64().toString()
  p.readInt32() // committed leader epoch: kafkajs tracks none
  const metadata = p.readUVarIntString()
  const errorCode = p.readInt16()
  skipTaggedFields(p)
  return { partition, offset, metadata, errorCode }
}
