// How ops/kafkajs-fenced-offsets.ts gets TxnOffsetCommit v3 out of kafkajs: kafkajs' own
// lookup() negotiates the version against a broker's ApiVersions (the table it keeps per
// broker); these drive that lookup with tables a broker could answer, as kafkajs'
// broker.txnOffsetCommit() does, without a broker. The real broker's side is in
// test/integration/fenced-offsets.test.ts.

import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { isImflowError } from '../../ops/errors.js'
import type { KafkaEncoder } from '../../ops/kafka-flexible-codec.js'
import { sendOffsetsWithGroupMetadata } from '../../ops/kafkajs-fenced-offsets.js'
import type { OffsetTopic } from '../../ops/txn-offset-commit-v3.js'

const require = createRequire(import.meta.url)
const { lookup, requests } = require('kafkajs/src/protocol/requests/index.js') as {
  lookup(versions: Record<number, { minVersion: number; maxVersion: number }>): (
    apiKey: number,
    definition: unknown,
  ) => (args: Record<string, unknown>) => {
    request: { apiVersion: number; encode(): Promise<KafkaEncoder> }
  }
  requests: { TxnOffsetCommit: unknown }
}

const group = { groupId: 'g', generationId: 4, memberId: 'member-a', groupInstanceId: null }
const topics: OffsetTopic[] = [{ topic: 't', partitions: [{ partition: 0, offset: '12' }] }]

/** A transaction whose sendOffsets encodes what kafkajs' broker.txnOffsetCommit() would send. */
function transactionOn(brokerMax: number, sent: { version?: number; bytes?: Buffer }[]) {
  const txnOffsetCommit = lookup({ 28: { minVersion: 0, maxVersion: brokerMax } })(
    28,
    requests.TxnOffsetCommit,
  )
  return {
    async sendOffsets({ consumerGroupId, topics }: { consumerGroupId: string; topics: unknown }) {
      const { request } = txnOffsetCommit({
        transactionalId: 'tx',
        groupId: consumerGroupId,
        producerId: 1,
        producerEpoch: 0,
        topics,
      })
      sent.push({ version: request.apiVersion, bytes: (await request.encode()).buffer })
    },
  }
}

describe('TxnOffsetCommit v3 through kafkajs’ version lookup', () => {
  it('sends v3 with the group metadata when the broker speaks it', async () => {
    const sent: { version?: number; bytes?: Buffer }[] = []
    await sendOffsetsWithGroupMetadata(transactionOn(4, sent), { ...group, topics })
    expect(sent).toHaveLength(1)
    expect(sent[0]?.version).toBe(3)
    const bytes = sent[0]?.bytes as Buffer
    // After the header tags, "tx", "g", producer id and epoch: generation 4, then "member-a".
    const at = 1 + 3 + 2 + 8 + 2
    expect(bytes.readInt32BE(at)).toBe(4)
    expect(bytes.subarray(at + 5, at + 13).toString()).toBe('member-a')
  })

  it('leaves kafkajs’ own sendOffsets as it was (v1, no metadata)', async () => {
    const sent: { version?: number }[] = []
    await transactionOn(4, sent).sendOffsets({ consumerGroupId: 'g', topics })
    expect(sent[0]?.version).toBe(1)
  })

  it('refuses with a typed error, and sends nothing, when the broker stops below v3', async () => {
    const sent: { version?: number }[] = []
    const failure = await sendOffsetsWithGroupMetadata(transactionOn(2, sent), {
      ...group,
      topics,
    }).catch((err: unknown) => err)
    expect(isImflowError(failure, 'IMF_ERR_KAFKA_UNSUPPORTED')).toBe(true)
    expect(failure).toMatchObject({ details: { brokerVersion: 2, needed: 3 } })
    expect(sent).toEqual([])
  })

  it('refuses a membership the coordinator would not fence (no generation, no member id)', async () => {
    for (const unfenced of [{ generationId: -1 }, { memberId: '' }, { generationId: 1.5 }]) {
      const sent: { version?: number }[] = []
      const failure = await sendOffsetsWithGroupMetadata(transactionOn(4, sent), {
        ...group,
        ...unfenced,
        topics,
      }).catch((err: unknown) => err)
      expect(isImflowError(failure, 'IMF_ERR_INTERNAL')).toBe(true)
      expect(sent).toEqual([])
    }
  })

  it('fails when the offsets went out some other way than v3', async () => {
    const sent: { version?: number }[] = []
    const plain = transactionOn(4, sent)
    // A kafkajs that copied the topics on the way down would lose the metadata's key.
    const copying = {
      sendOffsets: (o: { consumerGroupId: string; topics: OffsetTopic[] }) =>
        plain.sendOffsets({ ...o, topics: o.topics.map((t) => ({ ...t })) }),
    }
    const failure = await sendOffsetsWithGroupMetadata(copying, { ...group, topics }).catch(
      (err: unknown) => err,
    )
    expect(sent[0]?.version).toBe(1)
    expect(isImflowError(failure, 'IMF_ERR_INTERNAL')).toBe(true)
  })
})
