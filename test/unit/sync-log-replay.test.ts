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
})
