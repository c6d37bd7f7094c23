// A user whose home geo or unit moves away from here: their PTS stream goes on at the new home
// (from 0: a device that follows them there starts again, docs/units.md), so the one kept here
// is ended. Their queue, PTS index, devices and timers are dropped, and the user row is marked
// with where they went: nothing bound for them is sequenced or pushed here any more (what still
// reaches this unit for them is the inbox's to send after them, user-moves.ts there: a new
// message handed off before the move as history, which the new home does not sequence again). A
// notification still pending goes out now: it announces what they were sent before the move,
// which the new home takes as history and announces to nobody. Moved back here, they start a
// stream anew.

import type { EventCodec } from '../../schemas/codec.js'
import type { UserEvent } from '../../schemas/types.generated.js'
import { notificationFor } from './offline-notifications.js'
import type { SyncTask } from './sync-task.js'

export interface SyncHomes {
  /** im.users (co-partitioned with the hand-offs). */
  users: string
  userCodec: EventCodec<UserEvent>
  /** Where the user is homed, when it is another geo or unit this one forwards to ("unit:1"). */
  away(user: UserEvent): string | undefined
}

export async function onUserHome(
  task: SyncTask,
  homes: SyncHomes,
  user: UserEvent,
  now: number,
): Promise<void> {
  const { userId } = user
  const row = await task.users.get(userId)
  const away = homes.away(user)
  if (away === undefined) {
    // Back here after a move: a new stream, from 0.
    if (row?.movedTo !== undefined) task.users.delete(userId)
    return
  }
  if (!row || row.movedTo === away) return
  const pending = await task.notifications.get(userId)
  if (pending) task.notify(notificationFor(userId, pending, now))
  task.notifications.delete(userId)
  await task.log.forget(userId)
  task.setOnline(userId, false)
  for (const timers of [task.pushes, task.ackChecks, task.notifyAt]) timers.delete(userId)
  task.urgent.delete(userId)
  task.users.put(userId, { head: 0, devices: {}, movedTo: away })
}
