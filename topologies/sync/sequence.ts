// Sequencing: each recipient of a hand-off gets their next PTS for it, once per source event
// (a replay finds the PTS it has), and is pushed soon, or, with no device online, gets the
// message into a coalesced offline notification.

import type { FanoutBatch } from '../../schemas/types.generated.js'
import { coalesce } from './offline-notifications.js'
import { encodeEntry } from './sync-log.js'
import { anyOnline, emptyUser } from './sync-state.js'
import type { SyncTask } from './sync-task.js'

/** What sequence() reads for each recipient, read ahead for a slice's hand-offs at once. */
export async function prefetchRecipients(
  task: SyncTask,
  batches: readonly FanoutBatch[],
): Promise<void> {
  const pairs = batches.flatMap((b) =>
    b.recipients.map((userId) => ({ userId, sourceId: b.sourceId })),
  )
  const users = [...new Set(pairs.map((p) => p.userId))]
  await Promise.all([
    task.log.prefetch(pairs),
    task.users.prefetch(users),
    task.notifications.prefetch(users),
  ])
}

export async function sequence(
  task: SyncTask,
  { recipients, sourceId, event, movedFrom }: FanoutBatch,
  now: number,
): Promise<void> {
  // A moved user's old private messages and deletions: history, not news (moved-entries.ts).
  if (movedFrom) return
  let entry: Buffer | undefined
  for (const userId of recipients) {
    if ((await task.log.ptsOf(userId, sourceId)) !== undefined) continue
    const user = (await task.users.get(userId)) ?? emptyUser()
    // Homed elsewhere since: sequenced there (the inbox sends it after them).
    if (user.movedTo !== undefined) continue
    user.head += 1
    entry ??= encodeEntry(sourceId, event)
    await task.log.append(userId, user.head, sourceId, entry)
    task.users.put(userId, user)
    if (anyOnline(user)) {
      task.schedulePush(userId, event.priority, now)
    } else if (event.payload.kind === 'NewMessage' && event.payload.message.senderId !== userId) {
      const pending = await task.notifications.get(userId)
      task.notifications.put(userId, coalesce(pending, event.payload.message, now))
      if (!pending) task.notifyAt.set(userId, now + task.settings.notifyWindowMs)
    }
  }
}
