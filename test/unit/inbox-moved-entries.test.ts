// A user's private messages and deletions leave with them packed (moved-entries.ts): per
// conversation, in order, each record at most PACK_MAX_CHARS of JSON, and the new home's inbox
// stores every one of them.

import { beforeEach, describe, expect, it } from 'vitest'
import { createEventCodec, type EventCodec } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type { FanoutBatch, StoredMessage, UserEvent } from '../../schemas/types.generated.js'
import { inboxTopology } from '../../topologies/inbox/index.js'
import { PACK_MAX_CHARS } from '../../topologies/inbox/moved-entries.js'
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

const inbox = (units: Record<string, string>, unit: number) =>
  new TopologyTestDriver(
    inboxTopology({
      fanout: 'fanout',
      codec: codecs.fanoutBatch as EventCodec<FanoutBatch>,
      homeMove: { users: 'im.users', userCodec, places: { geo: 'eu', geos: {}, unit, units } },
    }),
  )

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
    const handOff = (cid: string, payload: FanoutBatch['event']['payload']) =>
      here.pipe('fanout', {
        key: cid,
        partition: 0,
        timestamp: now,
        value: codecs.fanoutBatch.encode({
          partition: 0,
          recipients: ['cat'],
          sourceId: 'x',
          event: { priority: 'HIGH', payload },
          updateLists: false,
        }),
      })
    const sent = { g: [] as string[], h: [] as string[] }
    for (let n = 0; n < 700; n++) {
      const cid = n % 3 === 0 ? 'h' : 'g'
      const m = secret(cid, n)
      sent[cid].push(m.msgId)
      await handOff(cid, { kind: 'NewMessage', message: m })
    }
    for (let n = 0; n < 5; n++)
      await handOff('g', { kind: 'MessageDeleted', conversationId: 'g', msgId: `d${n}` })
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
    for (const store of [INBOX_STORES.inbox, INBOX_STORES.deleted]) {
      let left = 0
      for await (const _ of here.store(store).range()) left++
      expect(left).toBe(0)
    }

    // The new home's inbox stores each of them.
    const there = inbox({}, 0)
    for (const [i, b] of moved.entries())
      await there.pipe('fanout', {
        key: String(records[i]?.key),
        partition: 0,
        timestamp: now,
        value: codecs.fanoutBatch.encode({ ...b, partition: 0 }),
      })
    let stored = 0
    for await (const _ of there.store(INBOX_STORES.inbox).range()) stored++
    let deleted = 0
    for await (const _ of there.store(INBOX_STORES.deleted).range()) deleted++
    expect([stored, deleted]).toEqual([700, 5])
  })
})
