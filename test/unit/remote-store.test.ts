// Reads of another instance's store: point reads, and scans in pages that give exactly
// what the local store gives, in either order, fetching no more pages than the reader uses.

import { describe, expect, it } from 'vitest'
import { isImflowError } from '../../ops/errors.js'
import { type KeyRange, MemoryStore } from '../../state/index.js'
import {
  type PeerStoreClient,
  remoteStore,
  type StoreAddress,
} from '../../topologies/runtime/internal/remote-store.js'

const address: StoreAddress = { topology: 't', partition: 1, store: 's' }
const key = (i: number) => Buffer.from(`k${String(i).padStart(4, '0')}`)

async function collect(entries: AsyncIterable<[Buffer, Buffer]>, max = Infinity) {
  const out: string[] = []
  for await (const [k, v] of entries) {
    out.push(`${k}=${v}`)
    if (out.length >= max) break
  }
  return out
}

/** The owner's side: a store, served page by page, with the calls counted. */
function owner(entries: number) {
  const store = new MemoryStore()
  void store.write(
    Array.from({ length: entries }, (_, i) => ({ key: key(i), value: Buffer.from(String(i)) })),
  )
  const calls: { url: string; limit?: number }[] = []
  const client: PeerStoreClient = {
    async get(url, where, k) {
      expect(where).toEqual(address)
      calls.push({ url })
      return store.get(k)
    },
    async scan(url, where, range: KeyRange, limit) {
      expect(where).toEqual(address)
      calls.push({ url, limit })
      const page: [Buffer, Buffer][] = []
      for await (const entry of store.range(range)) {
        if (page.length === limit) return { entries: page, more: true }
        page.push(entry)
      }
      return { entries: page, more: false }
    },
  }
  return { store, client, calls }
}

describe('remoteStore', () => {
  const at = (url: string) => async () => ({ memberId: 'm', url })

  it('scans forward and backward across pages exactly like the owner’s store', async () => {
    const { store, client, calls } = owner(500)
    const remote = remoteStore({ address, client, owner: at('http://o'), stale: () => {} })
    for (const range of [
      {},
      { reverse: true },
      { gte: key(17), lt: key(450) },
      { gte: key(17), lt: key(450), reverse: true },
    ] as KeyRange[]) {
      expect(await collect(remote.range(range))).toEqual(await collect(store.range(range)))
    }
    expect(calls.every((c) => c.url === 'http://o')).toBe(true)
    expect(Math.max(...calls.map((c) => c.limit ?? 0))).toBeLessThanOrEqual(1_000)
  })

  it('fetches one small page for a reader that stops early', async () => {
    const { client, calls } = owner(5_000)
    const remote = remoteStore({ address, client, owner: at('http://o'), stale: () => {} })
    expect(await collect(remote.range({ reverse: true }), 20)).toHaveLength(20)
    expect(calls).toEqual([{ url: 'http://o', limit: 32 }])
  })

  it('reads single keys, present or not', async () => {
    const { client } = owner(3)
    const remote = remoteStore({ address, client, owner: at('http://o'), stale: () => {} })
    expect((await remote.get(key(2)))?.toString()).toBe('2')
    expect(await remote.get(key(9))).toBeUndefined()
  })

  it('answers NOT_READY while no owner is known, without calling anyone', async () => {
    const { client, calls } = owner(3)
    const remote = remoteStore({
      address,
      client,
      owner: async () => undefined,
      stale: () => {},
    })
    const err = await remote.get(key(1)).catch((e: unknown) => e)
    expect(isImflowError(err, 'IMF_ERR_NOT_READY')).toBe(true)
    expect(calls).toEqual([])
  })

  it('marks the owner map stale when a read fails, and passes the error on', async () => {
    let stale = 0
    const failing: PeerStoreClient = {
      get: async () => {
        throw new Error('connection refused')
      },
      scan: async () => {
        throw new Error('connection refused')
      },
    }
    const remote = remoteStore({
      address,
      client: failing,
      owner: at('http://gone'),
      stale: () => stale++,
    })
    await expect(remote.get(key(1))).rejects.toThrow('connection refused')
    await expect(collect(remote.range({}))).rejects.toThrow('connection refused')
    expect(stale).toBe(2)
  })
})
