// The store layers on a real RocksDB in a temporary folder.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ChangeloggedStore,
  deleteCheckpoint,
  int64Serde,
  prefixEnd,
  RocksDbStore,
  readCheckpoint,
  stringSerde,
  typedStore,
  writeCheckpoint,
} from '../../state/index.js'

let dir: string
let raw: RocksDbStore

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imflow-state-'))
  raw = await RocksDbStore.open(join(dir, 'db'))
})
afterEach(async () => {
  await raw.close().catch(() => {})
  await rm(dir, { recursive: true, force: true })
})

async function entries(it: AsyncIterable<[Buffer, Buffer]>): Promise<string[]> {
  const out: string[] = []
  for await (const [k, v] of it) out.push(`${k}=${v}`)
  return out
}

const b = (s: string) => Buffer.from(s)

describe('RocksDbStore', () => {
  it('writes in batches, reads back, deletes, and scans in key order', async () => {
    await raw.write([
      { key: b('b'), value: b('2') },
      { key: b('a'), value: b('1') },
      { key: b('c'), value: b('3') },
    ])
    await raw.write([{ key: b('b'), value: null }])
    expect((await raw.get(b('a')))?.toString()).toBe('1')
    expect(await raw.get(b('b'))).toBeUndefined()
    expect(await entries(raw.range())).toEqual(['a=1', 'c=3'])
    expect(await entries(raw.range({ gte: b('b'), lt: b('d') }))).toEqual(['c=3'])
  })

  it('reads many keys at once: undefined where there is none, an empty value as one', async () => {
    await raw.write([
      { key: b('a'), value: b('1') },
      { key: b('e'), value: Buffer.alloc(0) },
    ])
    const values = await raw.getMany([b('a'), b('missing'), b('e'), b('a')])
    expect(values.map((v) => v?.toString())).toEqual(['1', undefined, '', '1'])
    expect(await raw.getMany([])).toEqual([])
    expect((await raw.get(b('e')))?.length).toBe(0)
  })

  it('keeps data across close and reopen', async () => {
    await raw.write([{ key: b('k'), value: b('v') }])
    await raw.close()
    raw = await RocksDbStore.open(join(dir, 'db'))
    expect((await raw.get(b('k')))?.toString()).toBe('v')
  })
})

describe('prefixEnd', () => {
  it('is the first key after every key with the prefix', () => {
    expect(prefixEnd(b('ab'))?.toString()).toBe('ac')
    expect(prefixEnd(Buffer.from([0x61, 0xff]))).toEqual(Buffer.from([0x62]))
    expect(prefixEnd(Buffer.from([0xff, 0xff]))).toBeUndefined()
  })
})

describe('ChangeloggedStore', () => {
  it('reads its pending writes before commit, and RocksDB sees them only after', async () => {
    const store = new ChangeloggedStore('s', raw)
    store.put(b('x'), b('1'))
    expect((await store.get(b('x')))?.toString()).toBe('1')
    expect(await raw.get(b('x'))).toBeUndefined()
    expect(store.pendingWrites()).toEqual([{ key: b('x'), value: b('1') }])
    await store.commit()
    await store.landed() // the commit's write goes to RocksDB behind it
    expect((await raw.get(b('x')))?.toString()).toBe('1')
    expect(store.pendingWrites()).toEqual([])
  })

  it('forgets pending writes on rollback', async () => {
    const store = new ChangeloggedStore('s', raw)
    await raw.write([{ key: b('x'), value: b('old') }])
    store.put(b('x'), b('new'))
    store.delete(b('y'))
    store.rollback()
    expect((await store.get(b('x')))?.toString()).toBe('old')
    expect(store.pendingWrites()).toEqual([])
  })

  it('keeps only the latest write per key for the changelog', () => {
    const store = new ChangeloggedStore('s', raw)
    store.put(b('k'), b('1'))
    store.put(b('k'), b('2'))
    store.delete(b('k'))
    expect(store.pendingWrites()).toEqual([{ key: b('k'), value: null }])
  })

  it('merges pending writes and deletes into range and prefix scans', async () => {
    await raw.write([
      { key: b('u1:a'), value: b('1') },
      { key: b('u1:c'), value: b('3') },
      { key: b('u2:a'), value: b('9') },
    ])
    const store = new ChangeloggedStore('s', raw)
    store.put(b('u1:b'), b('2'))
    store.put(b('u1:c'), b('33'))
    store.delete(b('u1:a'))
    store.put(b('u1:d'), b('4'))
    expect(await entries(store.prefix(b('u1:')))).toEqual(['u1:b=2', 'u1:c=33', 'u1:d=4'])
    expect(await entries(store.range({ gte: b('u1:c') }))).toEqual(['u1:c=33', 'u1:d=4', 'u2:a=9'])
  })

  it('shows a commit to committed reads at once, while RocksDB is still writing it', async () => {
    await raw.write([
      { key: b('a'), value: b('1') },
      { key: b('c'), value: b('3') },
    ])
    // A RocksDB write held until released: the moment between Kafka's commit and the store's.
    let release: () => void = () => {}
    const held = new Promise<void>((r) => {
      release = r
    })
    const slow = Object.assign(Object.create(raw), {
      write: async (ops: Parameters<typeof raw.write>[0]) => {
        await held
        return raw.write(ops)
      },
    }) as typeof raw
    const store = new ChangeloggedStore('s', slow)
    store.put(b('b'), b('2'))
    store.delete(b('c'))
    expect(await store.committed.get(b('b'))).toBeUndefined() // not committed yet
    const committing = store.commit()
    expect(await raw.get(b('b'))).toBeUndefined() // RocksDB does not have it yet ...
    expect((await store.committed.get(b('b')))?.toString()).toBe('2') // ... committed reads do
    expect(await store.committed.get(b('c'))).toBeUndefined()
    expect(await entries(store.committed.range({}))).toEqual(['a=1', 'b=2'])
    expect(await entries(store.committed.range({ reverse: true }))).toEqual(['b=2', 'a=1'])
    await committing // no earlier commit to wait for: the task goes on while RocksDB writes
    release()
    await store.landed()
    expect(await entries(raw.range({}))).toEqual(['a=1', 'b=2'])
    expect(await entries(store.committed.range({ reverse: true }))).toEqual(['b=2', 'a=1'])
  })

  it('lands commits in RocksDB in order, one write at a time; after a failed one, none', async () => {
    const started: string[] = []
    let fail = false
    const releases: (() => void)[] = []
    const slow = Object.assign(Object.create(raw), {
      write: async (ops: Parameters<typeof raw.write>[0]) => {
        started.push(ops.map((op) => op.value?.toString()).join(','))
        await new Promise<void>((r) => releases.push(r))
        if (fail) throw new Error('disk full')
        return raw.write(ops)
      },
    }) as typeof raw
    const store = new ChangeloggedStore('s', slow)
    store.put(b('k'), b('1'))
    await store.commit()
    store.put(b('k'), b('2'))
    const second = store.commit() // waits for the first write
    await new Promise((r) => setImmediate(r))
    expect(started).toEqual(['1'])
    releases.shift()?.()
    await second
    expect((await raw.get(b('k')))?.toString()).toBe('1')
    await new Promise((r) => setImmediate(r))
    expect(started).toEqual(['1', '2'])
    fail = true
    store.put(b('k'), b('3'))
    const third = store.commit()
    releases.shift()?.()
    await expect(third).rejects.toThrow('disk full')
    await expect(store.landed()).rejects.toThrow('disk full')
    expect(started).toEqual(['1', '2']) // the third never reached RocksDB
    expect((await store.get(b('k')))?.toString()).toBe('3') // committed in Kafka: the task restores
  })

  it('prefetches keys in one go, so later gets read memory; a write made meanwhile wins', async () => {
    await raw.write([
      { key: b('a'), value: b('1') },
      { key: b('b'), value: b('2') },
    ])
    let reads = 0
    let calls = 0
    let release: () => void = () => {}
    const held = new Promise<void>((r) => {
      release = r
    })
    const counting = Object.assign(Object.create(raw), {
      get: async (key: Buffer) => {
        reads++
        await held
        return raw.get(key)
      },
      getMany: async (keys: readonly Buffer[]) => {
        reads += keys.length
        calls++
        await held
        return raw.getMany(keys)
      },
    }) as typeof raw
    const store = new ChangeloggedStore('s', counting)
    store.put(b('p'), b('pending'))
    const prefetching = store.prefetch([b('a'), b('b'), b('a'), b('missing'), b('p')])
    store.put(b('b'), b('22')) // written while the reads are out: the write is what counts
    release()
    await prefetching
    expect(reads).toBe(3) // a, b and missing, once each; p is pending
    expect(calls).toBe(1) // in one read of the raw store
    expect((await store.get(b('a')))?.toString()).toBe('1')
    expect((await store.get(b('b')))?.toString()).toBe('22')
    expect(await store.get(b('missing'))).toBeUndefined()
    expect((await store.get(b('p')))?.toString()).toBe('pending')
    expect(reads).toBe(3) // every get above came from memory
    store.rollback()
    expect((await store.get(b('b')))?.toString()).toBe('2') // the prefetched committed value
  })

  it('prefetches a slice’s many keys in several reads side by side, none left to read one by one', async () => {
    const keys = Array.from({ length: 7_000 }, (_, i) => b(`k${i}`))
    await raw.write(keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, value: key })))
    let inFlight = 0
    let mostInFlight = 0
    let calls = 0
    const counting = Object.assign(Object.create(raw), {
      getMany: async (asked: readonly Buffer[]) => {
        calls++
        mostInFlight = Math.max(mostInFlight, ++inFlight)
        await new Promise((r) => setImmediate(r))
        inFlight--
        return raw.getMany(asked)
      },
    }) as typeof raw
    const store = new ChangeloggedStore('s', counting)
    await store.prefetch(keys)
    expect(calls).toBe(4) // 2,000 keys a read
    expect(mostInFlight).toBe(4)
    const values = await Promise.all(keys.map((key) => store.get(key)))
    expect(calls).toBe(4) // every get came from memory
    expect(values.filter((v) => v !== undefined)).toHaveLength(3_500)
    expect(values[2]?.toString()).toBe('k2')
  })
})

describe('int64Serde', () => {
  it('writes a safe integer as a big-endian signed 64-bit and reads it back', () => {
    for (const n of [
      0,
      1,
      255,
      2 ** 31,
      2 ** 32 - 1,
      2 ** 32,
      1_764_000_000_123,
      2 ** 53 - 1,
      -1,
      -(2 ** 40) - 7,
      -(2 ** 53 - 1),
    ]) {
      const bytes = int64Serde.serialize(n)
      const expected = Buffer.alloc(8)
      expected.writeBigInt64BE(BigInt(n))
      expect(bytes).toEqual(expected)
      expect(int64Serde.deserialize(bytes)).toBe(n)
    }
    expect(() => int64Serde.serialize(2 ** 53)).toThrow(RangeError)
    expect(() => int64Serde.serialize(1.5)).toThrow(RangeError)
  })
})

describe('typedStore', () => {
  it('serializes keys and values', async () => {
    const store = typedStore(new ChangeloggedStore('s', raw), stringSerde, int64Serde)
    store.put('alice', 3)
    store.put('bob', 5)
    expect(await store.get('alice')).toBe(3)
    const all: [string, number][] = []
    for await (const e of store.range()) all.push(e)
    expect(all).toEqual([
      ['alice', 3],
      ['bob', 5],
    ])
  })

  it('answers at once what is in memory, and reads RocksDB for the rest', async () => {
    const changelogged = new ChangeloggedStore('s', raw)
    const store = typedStore(changelogged, stringSerde, int64Serde)
    store.put('alice', 3)
    store.delete('bob')
    expect(store.get('alice')).toBe(3) // a pending write
    expect(store.get('bob')).toBeUndefined() // a pending delete
    await changelogged.commit()
    await changelogged.landed()
    const reopened = typedStore(new ChangeloggedStore('s', raw), stringSerde, int64Serde)
    const first = reopened.get('alice')
    expect(first).toBeInstanceOf(Promise) // not in memory: read from RocksDB
    expect(await first).toBe(3)
    expect(reopened.get('alice')).toBe(3) // cached by that read
    const none = reopened.get('carol')
    expect(none).toBeInstanceOf(Promise)
    expect(await none).toBeUndefined()
    expect(reopened.get('carol')).toBeUndefined() // known to have none, without a promise
  })
})

describe('checkpoints', () => {
  const offsets = { 'app-count-counts-changelog': 42 }
  const checkpoint = { offsets, positions: { 'app-input': 1_000 } }

  it('are written atomically, read back, and deleted', async () => {
    const path = join(dir, 'checkpoint.json')
    expect(await readCheckpoint(path)).toBeUndefined()
    await writeCheckpoint(path, checkpoint, { closed: false })
    expect(await readCheckpoint(path)).toEqual(checkpoint)
    await deleteCheckpoint(path)
    expect(await readCheckpoint(path)).toBeUndefined()
  })

  it('written while running, are trusted only in the boot that wrote them', async () => {
    const path = join(dir, 'checkpoint.json')
    await writeCheckpoint(path, checkpoint, { closed: false })
    const written = JSON.parse(await readFile(path, 'utf8'))
    await writeFile(path, JSON.stringify({ ...written, boot: 'an-earlier-boot' }))
    expect(await readCheckpoint(path)).toBeUndefined()
    // A clean close's holds across a reboot, as do those of versions that wrote offsets only
    // (no positions: the task follows the group's offsets alone).
    await writeFile(path, JSON.stringify({ ...written, boot: 'an-earlier-boot', closed: true }))
    expect(await readCheckpoint(path)).toEqual(checkpoint)
    await writeFile(path, JSON.stringify(offsets))
    expect(await readCheckpoint(path)).toEqual({ offsets, positions: {} })
  })
})

describe('ReadCache', () => {
  it('evicts the least recently used entry past its capacity', async () => {
    const { ReadCache } = await import('../../state/index.js')
    const cache = new ReadCache(2)
    cache.set('a', b('1'))
    cache.set('b', null)
    expect(cache.get('a')?.toString()).toBe('1') // a is now the most recent
    cache.set('c', b('3'))
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('a')?.toString()).toBe('1')
    expect(cache.get('c')?.toString()).toBe('3')
  })

  it('evicts a tenth of its capacity at once, oldest first, and keeps the rest', async () => {
    const { ReadCache } = await import('../../state/index.js')
    const cache = new ReadCache(100)
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, b(String(i)))
    cache.get('k0') // the most recent now
    cache.set('k100', b('100'))
    const kept = Array.from({ length: 101 }, (_, i) => `k${i}`).filter((k) => cache.has(k))
    expect(kept).toEqual(['k0', ...Array.from({ length: 90 }, (_, i) => `k${i + 11}`)])
  })

  it('lets the changelogged store answer a hot key without RocksDB after the first read', async () => {
    const store = new ChangeloggedStore('s', raw)
    await raw.write([{ key: b('hot'), value: b('1') }])
    expect((await store.get(b('hot')))?.toString()).toBe('1')
    await raw.write([{ key: b('hot'), value: b('changed behind its back') }])
    // The cache answers: a task is its store's only writer, so RocksDB is not asked again.
    expect((await store.get(b('hot')))?.toString()).toBe('1')
    store.put(b('hot'), b('2'))
    await store.commit()
    expect((await store.get(b('hot')))?.toString()).toBe('2')
  })
})
