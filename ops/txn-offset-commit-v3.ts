// TxnOffsetCommit v3 on the wire (KIP-447: the offsets of a transaction carry the consumer
// group's generation, member id and group instance id, so the group coordinator refuses
// them from a member the group has moved past). kafkajs 2.2.4 speaks v0/v1 only.
//
// v3 is a flexible version (KIP-482), written with ops/kafka-flexible-codec.ts. Schema:
// apache/kafka clients/src/main/resources/common/message/TxnOffsetCommit{Request,Response}.json.

import {
  type KafkaEncoder,
  newDecoder,
  newEncoder,
  noTaggedFields,
  skipTaggedFields,
} from './kafka-flexible-codec.js'

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
