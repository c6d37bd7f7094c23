// The produce request encoder that replaces kafkajs' (ops/kafkajs-produce-encoding.ts): byte
// for byte the request kafkajs 2.2.4 writes, for records with and without keys, values,
// headers and timestamps, transactional or not, compressed or not.

import { createRequire } from 'node:module'
import { CompressionTypes } from 'kafkajs'
import { describe, expect, it, vi } from 'vitest'
import { produceEncodingFixed, produceRequestV3 } from '../../ops/kafkajs-produce-encoding.js'
import { kafkajsOriginal } from './kafkajs-original.js'

const require = createRequire(import.meta.url)
const PATH = 'kafkajs/src/protocol/requests/produce/v3/request.js'
const Long = require('kafkajs/src/utils/long') as { fromNumber(n: number): unknown }

type Args = Parameters<typeof produceRequestV3>[0]

async function bytes(request: typeof produceRequestV3, args: Args): Promise<Buffer> {
  const encoder = (await request(args).encode()) as { buffer: Buffer }
  return encoder.buffer
}

function messages(n: number, seed: number) {
  let s = seed
  const random = () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31
    return s / 2 ** 31
  }
  return Array.from({ length: n }, (_, i) => {
    const pick = random()
    return {
      key: pick < 0.2 ? null : pick < 0.4 ? `key-${i}-é` : Buffer.from(`k${i}`),
      value:
        pick < 0.1 ? null : pick < 0.5 ? 'x'.repeat(Math.floor(random() * 300)) : Buffer.alloc(i),
      ...(pick > 0.6
        ? { headers: { a: Buffer.from('1'), 'b-ü': ['2', Buffer.from('three')] } }
        : {}),
      ...(pick > 0.3
        ? { timestamp: String(1_764_000_000_000 + Math.floor(random() * 5_000)) }
        : {}),
    }
  })
}

describe('kafkajs produce encoding', () => {
  it('is the one kafkajs producers use (primed before kafkajs loaded)', () => {
    expect(produceEncodingFixed()).toBe(true)
    expect(require('kafkajs/src/protocol/requests/produce/v3/request.js')).toBe(produceRequestV3)
    expect(kafkajsOriginal<typeof produceRequestV3>(PATH)).not.toBe(produceRequestV3)
  })

  it.each([
    ['idempotent, uncompressed', { transactionalId: null, compression: CompressionTypes.None }],
    [
      'transactional, uncompressed',
      { transactionalId: 'tx-1', compression: CompressionTypes.None },
    ],
    ['transactional, gzip', { transactionalId: 'tx-1', compression: CompressionTypes.GZIP }],
  ])('writes the bytes kafkajs writes: %s', async (_, settings) => {
    // Records without a timestamp take the time of encoding: the same for both.
    vi.useFakeTimers({ now: 1_764_000_002_000, toFake: ['Date'] })
    try {
      const args: Args = {
        acks: -1,
        timeout: 30_000,
        producerId: Long.fromNumber(4_242),
        producerEpoch: 3,
        ...settings,
        topicData: [
          {
            topic: 'imflow-sync-queue-changelog',
            partitions: [
              { partition: 0, firstSequence: 17, messages: messages(500, 1) },
              { partition: 3, firstSequence: 0, messages: messages(1, 2) },
            ],
          },
          { topic: 'im.receipts', partitions: [{ partition: 1, messages: messages(40, 3) }] },
        ],
      }
      const ours = await bytes(produceRequestV3, args)
      expect(ours.length).toBeGreaterThan(5_000)
      expect(ours.equals(await bytes(kafkajsOriginal<typeof produceRequestV3>(PATH), args))).toBe(
        true,
      )
    } finally {
      vi.useRealTimers()
    }
  })
})
