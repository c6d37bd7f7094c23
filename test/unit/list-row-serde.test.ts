// A conversation-list row as the inbox stores it (model/list-row-serde.ts): its unread ids
// packed 8 bytes each (model/unread-ids.ts), and rows stored as JSON before still read.

import { Ajv } from 'ajv'
import { describe, expect, it } from 'vitest'
import { messageSummarySchema } from '../../connectors/protocol/api-responses.js'
import { type ListRow, unreadIds } from '../../topologies/model/index.js'
import { listRowSerde } from '../../topologies/model/list-row-serde.js'

const ids = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => String(7_400_000_000_000_000_000n + BigInt(from + i)))

describe('list row serde', () => {
  const row: ListRow = {
    unread: 130,
    unreadIds: unreadIds.packUnreadIds(ids(0, 100)),
    last: {
      msgId: '42',
      senderId: 'ann',
      type: 'TEXT',
      preview: 'hé',
      createdAt: 1_764_000_000_000,
    },
  }

  it('reads back what it wrote, in under half the bytes of the JSON it replaces', () => {
    const bytes = listRowSerde.serialize(row)
    expect(listRowSerde.deserialize(bytes)).toEqual(row)
    const json = JSON.stringify({ ...row, unreadIds: ids(0, 100) })
    expect(bytes.length).toBeLessThan(json.length / 2)
    const deleted = { ...row, last: null, lastDeleted: true }
    expect(listRowSerde.deserialize(listRowSerde.serialize(deleted))).toEqual(deleted)
  })

  it('reads back a last message the API serves as it is (a plain object, no extra keys)', () => {
    const { last } = listRowSerde.deserialize(listRowSerde.serialize(row))
    const summary = new Ajv().compile(messageSummarySchema)
    expect(summary(last), JSON.stringify(summary.errors)).toBe(true)
  })

  it('reads the rows stored as JSON before', () => {
    const json = Buffer.from(JSON.stringify({ ...row, unreadIds: ids(0, 100), lastDeleted: true }))
    expect(listRowSerde.deserialize(json)).toEqual({ ...row, lastDeleted: true })
  })
})

describe('unread ids', () => {
  const id = (n: number) => unreadIds.msgIdBytes(ids(n, 1)[0] as string) as Buffer

  it('keep the newest 100, oldest first', () => {
    let packed = unreadIds.NO_UNREAD_IDS
    for (let n = 0; n < 130; n++) packed = unreadIds.withUnreadId(packed, id(n))
    expect(unreadIds.unpackUnreadIds(packed)).toEqual(ids(30, 100))
  })

  it('find, drop and cut at an id, in the ids order, not the strings', () => {
    const packed = unreadIds.packUnreadIds(['999', '1000', '1001'])
    const at = (s: string) => unreadIds.msgIdBytes(s) as Buffer
    expect(unreadIds.holdsUnreadId(packed, at('1000'))).toBe(true)
    expect(unreadIds.holdsUnreadId(packed, at('100'))).toBe(false)
    expect(unreadIds.unpackUnreadIds(unreadIds.withoutUnreadId(packed, at('1000')))).toEqual([
      '999',
      '1001',
    ])
    expect(unreadIds.unpackUnreadIds(unreadIds.unreadIdsAfter(packed, at('999')))).toEqual([
      '1000',
      '1001',
    ])
    expect(unreadIds.msgIdBytes('12a')).toBeUndefined()
    expect(unreadIds.msgIdBytes('1'.repeat(20))).toBeUndefined()
  })

  it('merge two rows: each id once, in order, the newest 100', () => {
    const merged = unreadIds.mergeUnreadIds(
      unreadIds.packUnreadIds(ids(50, 80)),
      unreadIds.packUnreadIds(ids(0, 60)),
    )
    expect(unreadIds.unpackUnreadIds(merged)).toEqual(ids(30, 100))
  })
})
