// A user's private messages and deletions leave with them packed (moved-entries.ts): per
// conversation, in order, each record at most PACK_MAX_CHARS of JSON, and the new home's inbox
// stores every one of them.

import { beforeEach, describe, expect, it } from 'vitest'
import { createEventCodec, type EventCodec } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type { FanoutBatch, StoredMessage, UserEvent } from '../../schemas/types.generated.js'
import { inboxTopology } from '../../topologies/inbox/index.js'
import { PACK_MAX_CHARS } from '../../topologies/inbox/moved-entries.js'
import { userExports } from '../../topologies/inbox/user-export.js'
import { INBOX_STORES } from '../../topologies/model/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { type ReceiverCodecs, receiverCodecs } from './receiver-codecs.js'

const now = Date.UTC(2026, 10, 27, 12)
let codecs: ReceiverCodecs
let userCodec: EventCodec<UserEvent>

beforeEach(async () => {
  codecs = await receiverCodecs()
  userCodec = await createEventCodec(memorySchemaSource(), 'im.users-value', 'UserEvent')
})

/** An inbox of unit `unit`, listing `units`; `exportChars`: a moving user's state per transaction. */
const inbox = (units: Record<string, string>, unit: number, exportChars?: number) =>
  new TopologyTestDriver(
    inboxTopology({
      fanout: 'fanout',
      codec: codecs.fanoutBatch as EventCodec<FanoutBatch>,
      homeMove: {
        users: 'im.users',
        userCodec,
        places: { geo: 'eu', geos: {}, unit, units },
        ...(exportChars ? { exportChars } : {}),
      },
    }),
  )

/** A hand-off to cat in conversation `cid`. */
const handOff = (
  driver: TopologyTestDriver,
  cid: string,
  payload: FanoutBatch['event']['payload'],
  updateLists = false,
) =>
  driver.pipe('fanout', {
    key: cid,
    partition: 0,
    timestamp: now,
    value: codecs.fanoutBatch.encode({
      partition: 0,
      recipients: ['cat'],
      sourceId: `x${Math.random()}`,
      event: { priority: 'HIGH', payload },
      updateLists,
    }),
  })

const count = async (driver: TopologyTestDriver, store: string) => {
  let n = 0
  for await (const _ of driver.store(store).range()) n++
  return n
}

const secret = (cid: string, n: number): StoredMessage => ({
  msgId: String(1_000_000 + n),
  conversationId: cid,
  senderId: 'bob',
  clientMsgId: `p${n}`,
  type: 'TEXT',
  body: 'x'.repeat(1_000), // about 1.3 KB of JSON each: several packs per conversation
  priority: 'HIGH',
  visibility: 'PRIVATE',
  targets: ['cat'],
  sentAt: now,
  createdAt: now + n,
  seq: 0,
})

describe('inbox: a moving user’s private messages and deletions, packed', () => {
  it('go per conversation, in order, in bounded records, and are all stored there', async () => {
    const here = inbox({ '0': 'a.inbound' }, 1)
    const sent = { g: [] as string[], h: [] as string[] }
    for (let n = 0; n < 700; n++) {
      const cid = n % 3 === 0 ? 'h' : 'g'
      const m = secret(cid, n)
      sent[cid].push(m.msgId)
      await handOff(here, cid, { kind: 'NewMessage', message: m })
    }
    for (let n = 0; n < 5; n++)
      await handOff(here, 'g', { kind: 'MessageDeleted', conversationId: 'g', msgId: `d${n}` })
    const move = { userId: 'cat', geo: 'eu', at: now, unit: '0' }
    await here.pipe('im.users', { key: 'cat', value: userCodec.encode(move), timestamp: now })

    const records = here.read('a.inbound')
    const moved = await Promise.all(
      records.map((r) => codecs.fanoutBatch.decode(r.value as Buffer)),
    )
    const packs = moved.filter((b) => b.movedEntries)
    // 700 private messages of ~1.3 KB in packs of 256 KB: a handful of records, not 700.
    expect(packs.length).toBeGreaterThan(3)
    expect(packs.length).toBeLessThan(10)
    for (const [i, b] of moved.entries()) {
      if (!b.movedEntries) continue
      expect(JSON.stringify(b.movedEntries.privateMessages).length).toBeLessThanOrEqual(
        PACK_MAX_CHARS + 1_000,
      )
      // Keyed by its conversation (behind that conversation's row), one conversation each.
      const cids = new Set(b.movedEntries.privateMessages.map((m) => m.conversationId))
      expect(cids.size).toBeLessThanOrEqual(1)
      if (cids.size === 1) expect(String(records[i]?.key)).toBe([...cids][0])
      expect(b.movedFrom).toBe('unit:1')
    }
    const ids = (cid: string) =>
      packs.flatMap((b) =>
        (b.movedEntries?.privateMessages ?? [])
          .filter((m) => m.conversationId === cid)
          .map((m) => m.msgId),
      )
    expect(ids('g')).toEqual(sent.g)
    expect(ids('h')).toEqual(sent.h)
    expect(packs.flatMap((b) => b.movedEntries?.deletedMsgIds ?? [])).toEqual([
      'd0',
      'd1',
      'd2',
      'd3',
      'd4',
    ])
    for (const store of [INBOX_STORES.inbox, INBOX_STORES.deleted])
      expect(await count(here, store)).toBe(0)

    // The new home's inbox stores each of them.
    const there = inbox({}, 0)
    for (const [i, b] of moved.entries())
      await there.pipe('fanout', {
        key: String(records[i]?.key),
        partition: 0,
        timestamp: now,
        value: codecs.fanoutBatch.encode({ ...b, partition: 0 }),
      })
    expect([
      await count(there, INBOX_STORES.inbox),
      await count(there, INBOX_STORES.deleted),
    ]).toEqual([700, 5])
  })
})

describe('inbox: a moving user’s state, in chunks', () => {
  const joined = (driver: TopologyTestDriver, cid: string) =>
    handOff(driver, cid, { kind: 'MembershipChanged', conversationId: cid, member: true })
  const moveCat = (driver: TopologyTestDriver, unit: string) =>
    driver.pipe('im.users', {
      key: 'cat',
      value: userCodec.encode({ userId: 'cat', geo: 'eu', at: now, unit }),
      timestamp: now,
    })
  const decoded = (driver: TopologyTestDriver, topic: string) =>
    Promise.all(
      driver.read(topic).map(async (r) => ({
        key: String(r.key),
        batch: await codecs.fanoutBatch.decode(r.value as Buffer),
      })),
    )

  it('leave a bounded chunk per transaction, rows first, until nothing is left', async () => {
    const here = inbox({ '0': 'a.inbound' }, 1, 100_000)
    const sent: string[] = []
    for (let n = 0; n < 20; n++) await joined(here, `c${n}`)
    for (let n = 0; n < 700; n++) {
      const m = secret(`c${n % 20}`, n)
      sent.push(m.msgId)
      await handOff(here, m.conversationId, { kind: 'NewMessage', message: m })
    }
    for (let n = 0; n < 5; n++)
      await handOff(here, 'c3', { kind: 'MessageDeleted', conversationId: 'c3', msgId: `d${n}` })
    await moveCat(here, '0')

    // About 100 KB a transaction: the move's own carries the rows and the first packs only.
    const chunks = [await decoded(here, 'a.inbound')]
    for (let tick = 0; tick < 30 && (await count(here, INBOX_STORES.inbox)) > 0; tick++) {
      await here.advanceWallClock(100)
      chunks.push(await decoded(here, 'a.inbound'))
    }
    await here.advanceWallClock(100)
    chunks.push(await decoded(here, 'a.inbound'))
    const chars = (b: FanoutBatch) => JSON.stringify(b.movedEntries ?? b.movedRow ?? null).length
    expect(chunks.length).toBeGreaterThan(5)
    for (const chunk of chunks)
      expect(chunk.reduce((sum, r) => sum + chars(r.batch), 0)).toBeLessThan(100_000 + 5_000)
    const all = chunks.flat()
    // Every row before any entry; then the private messages in order, then the deletions.
    const firstEntry = all.findIndex((r) => r.batch.movedEntries)
    expect(all.slice(0, firstEntry).every((r) => r.batch.movedRow)).toBe(true)
    expect(all.filter((r) => r.batch.movedRow)).toHaveLength(20)
    const msgIds = all.flatMap(
      (r) => r.batch.movedEntries?.privateMessages.map((m) => m.msgId) ?? [],
    )
    expect(msgIds.toSorted()).toEqual(sent.toSorted())
    for (let c = 0; c < 20; c++) {
      const ids = all.flatMap(
        (r) =>
          r.batch.movedEntries?.privateMessages
            .filter((m) => m.conversationId === `c${c}`)
            .map((m) => m.msgId) ?? [],
      )
      expect(ids).toEqual(sent.filter((_, n) => n % 20 === c))
    }
    expect(all.flatMap((r) => r.batch.movedEntries?.deletedMsgIds ?? [])).toEqual([
      'd0',
      'd1',
      'd2',
      'd3',
      'd4',
    ])
    for (const store of [INBOX_STORES.inbox, INBOX_STORES.deleted, INBOX_STORES.lists])
      expect(await count(here, store)).toBe(0)
    expect(await count(here, userExports.name)).toBe(0)
  })

  it('sends a conversation’s row ahead of a hand-off that follows the user meanwhile', async () => {
    const here = inbox({ '0': 'a.inbound' }, 1, 2_000)
    for (let n = 0; n < 200; n++) await joined(here, `c${String(n).padStart(3, '0')}`)
    await moveCat(here, '0')
    const first = await decoded(here, 'a.inbound')
    expect(first.length).toBeLessThan(50) // a handful of rows: the rest wait for the ticks
    expect(first.some((r) => r.key === 'c150')).toBe(false)

    // A message in c150 reaches the old home before c150's row has left: the row goes first.
    const m = { ...secret('c150', 1), visibility: 'NORMAL' as const, targets: [] }
    await handOff(here, 'c150', { kind: 'NewMessage', message: m }, true)
    const next = await decoded(here, 'a.inbound')
    expect(next.map((r) => [r.key, r.batch.movedRow ? 'row' : r.batch.event.payload.kind])).toEqual(
      [
        ['c150', 'row'],
        ['c150', 'NewMessage'],
      ],
    )
    for (let tick = 0; tick < 100 && (await count(here, INBOX_STORES.lists)) > 0; tick++)
      await here.advanceWallClock(100)
    const rest = await decoded(here, 'a.inbound')
    // Each row left once.
    const rows = [...first, ...next, ...rest].filter((r) => r.batch.movedRow).map((r) => r.key)
    expect(rows).toHaveLength(200)
    expect(new Set(rows).size).toBe(200)
  })

  it('stops when the user is moved back: what has not left stays', async () => {
    const here = inbox({ '0': 'a.inbound' }, 1, 2_000)
    for (let n = 0; n < 200; n++) await joined(here, `c${String(n).padStart(3, '0')}`)
    await moveCat(here, '0')
    const left = (await decoded(here, 'a.inbound')).length
    await moveCat(here, '')
    for (let tick = 0; tick < 5; tick++) await here.advanceWallClock(100)
    expect(await decoded(here, 'a.inbound')).toHaveLength(0)
    expect(await count(here, INBOX_STORES.lists)).toBe(200 - left)
    expect(await count(here, userExports.name)).toBe(0)
  })
})
