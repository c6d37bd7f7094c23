// Reads of the sync topology's committed state for the API: a user's events after a PTS
// (GET /v1/sync), for catching up and after a Rebase.

import type { SequencedEvent } from '../../schemas/types.generated.js'
import { jsonSerde } from '../../state/index.js'
import { SYNC_STORES } from '../model/index.js'
import type { RunningTopology } from '../runtime/index.js'
import { readQueue } from './sync-log.js'
import { queueTail, type SyncSettings, type UserSync } from './sync-state.js'

export interface SyncPage {
  headPts: number
  /** `after` is older than the queue keeps (or newer than the head): pull the latest messages, then go on from headPts. */
  rebase: boolean
  events: SequencedEvent[]
}

const userSerde = jsonSerde<UserSync>()

export class SyncQueries {
  constructor(
    private readonly sync: RunningTopology,
    private readonly settings: Pick<SyncSettings, 'retention'>,
  ) {}

  async user(userId: string): Promise<UserSync | undefined> {
    const store = this.sync.committedStoreForKey(userId, SYNC_STORES.users)
    const bytes = await store.get(Buffer.from(userId))
    return bytes === undefined ? undefined : userSerde.deserialize(bytes)
  }

  /** Events after `after`, oldest first, at most `limit`. */
  async after(userId: string, after: number, limit: number): Promise<SyncPage> {
    const head = (await this.user(userId))?.head ?? 0
    if (after > head || after + 1 < queueTail(head, this.settings)) {
      return { headPts: head, rebase: true, events: [] }
    }
    const queue = this.sync.committedStoreForKey(userId, SYNC_STORES.queue)
    const events: SequencedEvent[] = []
    for await (const e of readQueue(queue, userId, after + 1, Math.min(head, after + limit))) {
      events.push(e)
    }
    return { headPts: head, rebase: false, events }
  }
}
