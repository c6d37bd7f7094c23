// OffsetFetch v7 (KIP-447's require_stable) on the wire (ops/offset-fetch-v7.ts). The
// fixtures are written byte by byte from Kafka's message JSON (OffsetFetchRequest.json,
// OffsetFetchResponse.json), independently of the codec under test.

import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import {
  decodeOffsetFetchV7Response,
  encodeOffsetFetchV7,
  type OffsetFetchResponse,
} from '../../ops/offset-fetch-v7.js'

const require = createRequire(import.meta.url)
const { parse } = require('kafkajs/src/protocol/requests/offsetFetch/v4/response.js') as {
  parse(data: OffsetFetchResponse): Promise<OffsetFetchResponse>
}

const hex = (parts: string[]) => Buffer.from(parts.join('').replaceAll(' ', ''), 'hex')

describe('OffsetFetch v7 encoding', () => {
  it('writes group, topics with their partitions, and require_stable as Kafka’s schema has them', () => {
    const bytes = encodeOffsetFetchV7({
      groupId: 'g',
      topics: [{ topic: 'in', partitions: [{ partition: 0 }, { partition: 3 }] }],
      requireStable: true,
    }).buffer
    const expected = hex([
      '00', // request header v2: no tagged fields
      '02 67', // group id "g": compact (length + 1)
      '02', // 1 topic
      '03 696e', // "in"
      '03', // 2 partition indexes
      '00000000',
      '00000003',
      '00', // topic tagged fields
      '01', // require stable: true
      '00', // request tagged fields
    ])
    expect(bytes.toString('hex')).toBe(expected.toString('hex'))
  })

  it('writes a null topics array (every topic of the group) as 0', () => {
    const bytes = encodeOffsetFetchV7({ groupId: 'g', topics: null, requireStable: false }).buffer
    expect(bytes.toString('hex')).toBe(hex(['00', '02 67', '00', '00', '00']).toString('hex'))
  })
})

describe('OffsetFetch v7 decoding', () => {
  const response = hex([
    '00', // response header v1: no tagged fields
    '00000005', // throttle time
    '02', // 1 topic
    '03 696e', // "in"
    '03', // 2 partitions
    '00000000 0000000000000008 ffffffff 00 0000 00', // 0: offset 8, epoch -1, metadata null, ok
    '00000003 ffffffffffffffff 00000002 02 78 0058 00', // 3: offset -1, epoch 2, "x", 88
    '00', // topic tagged fields
    '0000', // top-level error code
    '01 00 03 aabbcc', // one unknown tagged field of 3 bytes
  ])

  it('reads Kafka’s fields into kafkajs’ shape, skipping tagged fields it does not know', () => {
    expect(decodeOffsetFetchV7Response(response)).toEqual({
      throttleTime: 5,
      responses: [
        {
          topic: 'in',
          partitions: [
            { partition: 0, offset: '8', metadata: null, errorCode: 0 },
            { partition: 3, offset: '-1', metadata: 'x', errorCode: 88 },
          ],
        },
      ],
      errorCode: 0,
    })
  })

  it('gives a pending transaction’s partition (88) to kafkajs as its UNSTABLE_OFFSET_COMMIT', async () => {
    const failure = await parse(decodeOffsetFetchV7Response(response)).catch((e: unknown) => e)
    expect(failure).toMatchObject({ type: 'UNSTABLE_OFFSET_COMMIT', retriable: true })
  })
})
