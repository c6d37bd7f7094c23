// TxnOffsetCommit v3 (KIP-447) on the wire (ops/txn-offset-commit-v3.ts), and how
// ops/kafkajs-fenced-offsets.ts picks it through kafkajs' own version lookup. The inverse
// codecs here are written from Kafka's message JSON, independently of the ones under test.

import { describe, expect, it } from 'vitest'
import {
  type KafkaDecoder,
  newDecoder,
  newEncoder,
  skipTaggedFields,
} from '../../ops/kafka-flexible-codec.js'
import {
  decodeTxnOffsetCommitV3Response,
  encodeTxnOffsetCommitV3,
  type TxnOffsetCommitV3Request,
  type TxnOffsetCommitV3Response,
} from '../../ops/txn-offset-commit-v3.js'

const request: TxnOffsetCommitV3Request = {
  transactionalId: 'tx-1',
  groupId: 'g',
  producerId: '9007199254740993', // past 2^53: must go through as an int64, not a double
  producerEpoch: 7,
  generationId: 42,
  memberId: 'm-1',
  groupInstanceId: null,
  topics: [
    {
      topic: 'in',
      partitions: [
        { partition: 0, offset: '10' },
        { partition: 3, offset: '7' },
      ],
    },
    { topic: 'in2', partitions: [{ partition: 1, offset: '5000000000', metadata: 'x' }] },
  ],
}

/** Reads a v3 request body back (after request header v1), field by field from the JSON. */
function decodeRequest(bytes: Buffer) {
  const d = newDecoder(bytes)
  expect(d.readUVarInt()).toBe(0) // request header v2's tagged fields
  const head = {
    transactionalId: d.readUVarIntString(),
    groupId: d.readUVarIntString(),
    producerId: d.readInt64().toString(),
    producerEpoch: d.readInt16(),
    generationId: d.readInt32(),
    memberId: d.readUVarIntString(),
    groupInstanceId: d.readUVarIntString(),
  }
  const topics = d.readUVarIntArray((t: KafkaDecoder) => {
    const topic = t.readUVarIntString()
    const partitions = t.readUVarIntArray((p: KafkaDecoder) => {
      const partition = p.readInt32()
      const offset = p.readInt64().toString()
      expect(p.readInt32()).toBe(-1) // committed leader epoch
      const metadata = p.readUVarIntString()
      expect(p.readUVarInt()).toBe(0)
      return { partition, offset, ...(metadata === null ? {} : { metadata }) }
    })
    expect(t.readUVarInt()).toBe(0)
    return { topic, partitions }
  })
  expect(d.readUVarInt()).toBe(0)
  expect(d.offset).toBe(bytes.length)
  return { ...head, topics }
}

/** A v3 response as a broker writes it, with a tagged field in every section when given. */
function encodeResponse(r: TxnOffsetCommitV3Response, tagged?: Buffer): Buffer {
  type Encoder = ReturnType<typeof newEncoder>
  const tags = (e: Encoder): Encoder => {
    if (!tagged) return e.writeUVarInt(0)
    // One field: tag 0, its size as is, its bytes.
    e.writeUVarInt(1).writeUVarInt(0).writeUVarInt(tagged.length)
    ;(e as unknown as { writeBufferInternal(b: Buffer): void }).writeBufferInternal(tagged)
    return e
  }
  const body = tags(newEncoder()) // response header v1
    .writeInt32(r.throttleTime)
    .writeUVarIntArray(
      r.topics.map(({ topic, partitions }) =>
        tags(
          newEncoder()
            .writeUVarIntString(topic)
            .writeUVarIntArray(
              partitions.map((p) =>
                tags(newEncoder().writeInt32(p.partition).writeInt16(p.errorCode)),
              ),
            ),
        ),
      ),
    )
  return tags(body).buffer
}

describe('TxnOffsetCommit v3 encoding', () => {
  it('writes the header v2 tags, compact strings and arrays, and tagged fields of Kafka’s schema', () => {
    const bytes = encodeTxnOffsetCommitV3({
      ...request,
      producerId: 1,
      topics: [{ topic: 't', partitions: [{ partition: 2, offset: '5' }] }],
    }).buffer
    const hex = [
      '00', // request header v2: no tagged fields
      '05 74782d31', // transactional id "tx-1": compact (length + 1)
      '02 67', // group id "g"
      '0000000000000001', // producer id
      '0007', // producer epoch
      '0000002a', // generation id 42
      '04 6d2d31', // member id "m-1"
      '00', // group instance id: null
      '02', // 1 topic
      '02 74', // "t"
      '02', // 1 partition
      '00000002', // partition
      '0000000000000005', // offset
      'ffffffff', // committed leader epoch -1
      '00', // metadata: null
      '00', // partition tagged fields
      '00', // topic tagged fields
      '00', // request tagged fields
    ]
    expect(bytes.toString('hex')).toBe(hex.join('').replaceAll(' ', ''))
  })

  it('round-trips a request with several topics, a large offset and a group instance id', () => {
    expect(decodeRequest(encodeTxnOffsetCommitV3(request).buffer)).toEqual(request)
    const statically = { ...request, groupInstanceId: 'instance-a' }
    expect(decodeRequest(encodeTxnOffsetCommitV3(statically).buffer)).toEqual(statically)
  })

  it('round-trips a response, skipping tagged fields it does not know', () => {
    const response: TxnOffsetCommitV3Response = {
      throttleTime: 3,
      topics: [
        {
          topic: 'in',
          partitions: [
            { partition: 0, errorCode: 0 },
            { partition: 3, errorCode: 22 },
          ],
        },
        { topic: 'in2', partitions: [{ partition: 1, errorCode: 25 }] },
      ],
    }
    expect(decodeTxnOffsetCommitV3Response(encodeResponse(response))).toEqual(response)
    // kafkajs' readTaggedFields() reads a field's size as size + 1: with 3 bytes it would lose one.
    expect(
      decodeTxnOffsetCommitV3Response(encodeResponse(response, Buffer.from([1, 2, 3]))),
    ).toEqual(response)
  })

  it('refuses a tagged field that runs past the end', () => {
    const d = newDecoder(Buffer.from([1, 0, 9, 1, 2]))
    expect(() => skipTaggedFields(d)).toThrow(RangeError)
  })
})
