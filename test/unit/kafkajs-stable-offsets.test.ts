// How ops/kafkajs-stable-offsets.ts gets OffsetFetch v7 out of kafkajs: kafkajs' own lookup()
// negotiates the version against a broker's ApiVersions; these drive that lookup with
// tables a broker could answer, as kafkajs' broker.offsetFetch() does under
// admin.fetchOffsets(), without a broker. The real broker's side is in
// test/integration/stable-offsets.test.ts.

import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { isImflowError } from '../../ops/errors.js'
import type { KafkaEncoder } from '../../ops/kafka-flexible-codec.js'
import { fetchStableOffsets } from '../../ops/kafkajs-stable-offsets.js'
import { encodeOffsetFetchV7 } from '../../ops/offset-fetch-v7.js'

const require = createRequire(import.meta.url)
const { lookup, requests } = require('kafkajs/src/protocol/requests/index.js') as {
  lookup(versions: Record<number, { minVersion: number; maxVersion: number }>): (
    apiKey: number,
    definition: unknown,
  ) => (args: Record<string, unknown>) => {
    request: { apiVersion: number; encode(): Promise<KafkaEncoder> }
  }
  requests: { OffsetFetch: unknown }
}

type Sent = { version: number; bytes: Buffer }

/** An admin whose fetchOffsets encodes what kafkajs' broker.offsetFetch() would send. */
function adminOn(brokerMax: number, sent: Sent[]) {
  const offsetFetch = lookup({ 9: { minVersion: 0, maxVersion: brokerMax } })(
    9,
    requests.OffsetFetch,
  )
  return {
    async fetchOffsets({ groupId, topics }: { groupId: string; topics: string[] }) {
      // Built anew, as kafkajs' admin does: nothing of the caller's reaches the definition.
      const asked = topics.map((topic) => ({
        topic,
        partitions: [{ partition: 0 }, { partition: 1 }],
      }))
      const { request } = offsetFetch({ groupId, topics: asked })
      sent.push({ version: request.apiVersion, bytes: (await request.encode()).buffer })
      return topics.map((topic) => ({
        topic,
        partitions: [{ partition: 0, offset: '-1', metadata: null }],
      }))
    },
  }
}

describe('OffsetFetch v7 through kafkajs’ version lookup', () => {
  it('sends v7 with require_stable when the broker speaks it (or later)', async () => {
    const sent: Sent[] = []
    await fetchStableOffsets(adminOn(9, sent), { groupId: 'g', topics: ['t'] })
    expect(sent.map((s) => s.version)).toEqual([7])
    const bytes = sent[0]?.bytes as Buffer
    expect(bytes.at(-2)).toBe(1) // require stable, before the request's tagged fields
  })

  it('asks only for the partitions given, not every one kafkajs’ admin lists', async () => {
    const sent: Sent[] = []
    await fetchStableOffsets(adminOn(9, sent), { groupId: 'g', topics: ['t'], partitions: [1] })
    const only = { groupId: 'g', topics: [{ topic: 't', partitions: [{ partition: 1 }] }] }
    expect(sent[0]?.bytes).toEqual(encodeOffsetFetchV7({ ...only, requireStable: true }).buffer)
  })

  it('leaves kafkajs’ own fetchOffsets as it was (v4, without require_stable)', async () => {
    const sent: Sent[] = []
    await adminOn(9, sent).fetchOffsets({ groupId: 'g', topics: ['t'] })
    expect(sent.map((s) => s.version)).toEqual([4])
  })

  it('refuses with a typed error, and sends nothing, when the broker stops below v7', async () => {
    const sent: Sent[] = []
    const failure = await fetchStableOffsets(adminOn(6, sent), {
      groupId: 'g',
      topics: ['t'],
    }).catch((err: unknown) => err)
    expect(isImflowError(failure, 'IMF_ERR_KAFKA_UNSUPPORTED')).toBe(true)
    expect(failure).toMatchObject({ details: { api: 'OffsetFetch', brokerVersion: 6, needed: 7 } })
    expect(sent).toEqual([])
  })

  it('fails when the offsets were read some other way than v7', async () => {
    const plain = adminOn(9, [])
    // An admin whose work runs in a context set up before the call (a queue's worker): the
    // request is built outside the call's async context, so unmarked.
    let release = () => {}
    const job: { query?: { groupId: string; topics: string[] } } = {}
    const outside = new Promise<void>((r) => {
      release = r
    }).then(() => plain.fetchOffsets(job.query ?? { groupId: 'g', topics: [] }))
    const detached = {
      fetchOffsets: (query: { groupId: string; topics: string[] }) => {
        job.query = query
        release()
        return outside
      },
    }
    const failure = await fetchStableOffsets(detached, { groupId: 'g', topics: ['t'] }).catch(
      (err: unknown) => err,
    )
    expect(isImflowError(failure, 'IMF_ERR_INTERNAL')).toBe(true)
  })
})
