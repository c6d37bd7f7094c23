import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { storeLogs } from '../../ops/app/commands/replay/app-logs.js'
import { entryHash, StoreDigest } from '../../ops/app/commands/replay/store-digest.js'

const b = (s: string) => Buffer.from(s)

function digestOf(writes: readonly [string, string | null][]) {
  const d = new StoreDigest()
  for (const [k, v] of writes) d.apply(b(k), v === null ? null : b(v))
  return d.result()
}

describe('StoreDigest', () => {
  it('is all zeros for an empty store, and for one whose keys were all deleted', () => {
    expect(digestOf([])).toEqual({ keys: 0, digest: '0000000000000000' })
    expect(
      digestOf([
        ['a', '1'],
        ['a', null],
      ]),
    ).toEqual({ keys: 0, digest: '0000000000000000' })
  })

  it('counts only the latest value of a key', () => {
    expect(
      digestOf([
        ['a', 'old'],
        ['a', 'new'],
        ['b', '2'],
      ]),
    ).toEqual(
      digestOf([
        ['b', '2'],
        ['a', 'new'],
      ]),
    )
    expect(
      digestOf([
        ['a', 'old'],
        ['a', 'new'],
      ]),
    ).not.toEqual(digestOf([['a', 'old']]))
  })

  it('tells key and value apart where their bytes run together', () => {
    expect(entryHash(b('ab'), b('c'))).not.toBe(entryHash(b('a'), b('bc')))
  })

  it('does not depend on the order of writes to different keys', () => {
    const entries = fc.uniqueArray(fc.tuple(fc.string(), fc.string()), {
      selector: ([k]) => k,
      maxLength: 30,
    })
    fc.assert(
      fc.property(entries, fc.integer(), (list, seed) => {
        const shuffled = [...list].sort((x, y) =>
          entryHash(b(x[0]), b(String(seed))) < entryHash(b(y[0]), b(String(seed))) ? -1 : 1,
        )
        expect(digestOf(shuffled)).toEqual(digestOf(list))
      }),
    )
  })

  it('changes when one value changes', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), fc.string(), (k, v1, v2) => {
        fc.pre(v1 !== v2)
        expect(digestOf([[k, v1]]).digest).not.toBe(digestOf([[k, v2]]).digest)
      }),
    )
  })
})

describe('storeLogs', () => {
  const topics = [
    'app-receiver-dedupe-changelog',
    'app-merge-index-messages-changelog',
    'app-merge-cursors-changelog',
    'app-fanout',
    'other-receiver-dedupe-changelog',
    'app-sync-sync-log-changelog',
  ]

  it("finds the app id's changelogs and names their topology and store", () => {
    expect(storeLogs(topics, 'app', ['receiver', 'merge', 'merge-index', 'sync'])).toEqual([
      { topology: 'merge', store: 'cursors', topic: 'app-merge-cursors-changelog' },
      { topology: 'merge-index', store: 'messages', topic: 'app-merge-index-messages-changelog' },
      { topology: 'receiver', store: 'dedupe', topic: 'app-receiver-dedupe-changelog' },
      { topology: 'sync', store: 'sync-log', topic: 'app-sync-sync-log-changelog' },
    ])
  })

  it('keeps to the topologies chosen (merge is not merge-index)', () => {
    expect(storeLogs(topics, 'app', ['merge']).map((l) => l.topic)).toEqual([
      'app-merge-cursors-changelog',
    ])
  })
})
