// A source event keeps its PTS after it has left the sync queue: the index (user, sourceId)
// outlives the queue's retention, so an event replayed from the log later is not sequenced
// again under a new PTS (docs/replay.md).

import { describe, expect, it } from 'vitest'
import type { SyncEvent } from '../../schemas/types.generated.js'
import { ChangeloggedStore, MemoryStore } from '../../state/index.js'
import { encodeEntry, SyncLog } from '../../topologies/sync/sync-log.js'

describe('sync log identities', () => {
  it('keeps each source event’s PTS once the queue has dropped the event', async () => {
    const queue = new ChangeloggedStore('sync-queue', new MemoryStore())
    const index = new ChangeloggedStore('pts-index', new MemoryStore())
    const log = new SyncLog(queue, index, 3)
    const event: SyncEvent = {
      priority: 'HIGH',
      payload: { kind: 'ConversationChanged', conversationId: 'g', description: 'renamed' },
    }
    for (let pts = 1; pts <= 10; pts++)
      await log.append('ann', pts, `msg-${pts}`, encodeEntry(`msg-${pts}`, event))
    // The queue keeps the last 3 PTS...
    const kept = []
    for await (const e of log.read('ann', 1, 10)) kept.push(e.pts)
    expect(kept).toEqual([8, 9, 10])
    // ...and every source event still finds the PTS it was given.
    for (let pts = 1; pts <= 10; pts++) expect(await log.ptsOf('ann', `msg-${pts}`)).toBe(pts)
    expect(await log.ptsOf('ann', 'msg-11')).toBeUndefined()
  })

  it('decodes one hand-off’s entry once for all its recipients', async () => {
    const queue = new ChangeloggedStore('sync-queue', new MemoryStore())
    const log = new SyncLog(queue, new ChangeloggedStore('pts-index', new MemoryStore()), 100)
    const event: SyncEvent = {
      priority: 'HIGH',
      payload: { kind: 'ConversationChanged', conversationId: 'g', description: 'renamed' },
    }
    const entry = encodeEntry('msg-1', event)
    for (const user of ['ann', 'bob']) await log.append(user, 1, 'msg-1', entry)
    const read = async (user: string) => {
      for await (const e of log.read(user, 1, 1)) return e.event
    }
    const forAnn = await read('ann')
    expect(forAnn).toEqual(event)
    expect(await read('bob')).toBe(forAnn) // the same bytes: decoded once
    // Bytes of their own (read from RocksDB) are decoded on their own.
    const copy = Buffer.from(entry)
    await log.append('cat', 1, 'msg-1', copy)
    const forCat = await read('cat')
    expect(forCat).toEqual(event)
    expect(forCat).not.toBe(forAnn)
  })
})
