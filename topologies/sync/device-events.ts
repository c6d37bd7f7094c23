// Devices' log-ins, acks and log-outs, as the gateways report them on im.device-events: a
// log-in opens a cursor (pushed its backlog now, or a Rebase when too far behind), an ack moves
// it forward and opens the window, a log-out of the current connection closes it.

import type { DeviceEvent } from '../../schemas/types.generated.js'
import { rebaseEnvelope } from './push-plan.js'
import { anyOnline, type DeviceCursor, emptyUser, needsRebase } from './sync-state.js'
import type { SyncTask } from './sync-task.js'

export async function onDeviceEvent(
  task: SyncTask,
  { userId, deviceId, at, event }: DeviceEvent,
  now: number,
): Promise<void> {
  const user = (await task.users.get(userId)) ?? emptyUser()
  // Homed elsewhere since: their devices are pushed there (this gateway refuses them).
  if (user.movedTo !== undefined) return
  const cursor = user.devices[deviceId]
  if (event.kind === 'LoggedIn') {
    const fresh: DeviceCursor = {
      online: true,
      deviceClass: event.deviceClass,
      gateway: event.gateway,
      acked: event.lastPts,
      pushed: event.lastPts,
      pushedAt: now,
      since: at,
      resends: 0,
    }
    if (needsRebase(user.head, event.lastPts, task.settings)) {
      task.send(rebaseEnvelope(userId, [deviceId], user.head, now))
      fresh.acked = user.head
      fresh.pushed = user.head
    } else if (user.head > event.lastPts) {
      task.pushNow(userId, now) // its backlog goes out now
    }
    user.devices[deviceId] = fresh
    task.setOnline(userId, true)
    // Back online: the device gets what a pending notification would have announced.
    task.notifications.delete(userId)
    task.notifyAt.delete(userId)
  } else if (event.kind === 'Acked') {
    if (!cursor) return
    // Never past what it was pushed: an event sequenced but not pushed yet (it goes out with
    // the transaction's commit) would be taken as held, and never reach the device.
    cursor.acked = Math.max(cursor.acked, Math.min(event.pts, cursor.pushed))
    cursor.resends = 0
    // An ack opens the device's window: the rest of its backlog follows.
    if (cursor.online && cursor.pushed < user.head) task.pushes.set(userId, now)
  } else {
    // A log-out of a connection since replaced: older than the last log-in, or reported
    // by another gateway than the one the device moved to.
    const moved = event.gateway !== '' && event.gateway !== cursor?.gateway
    if (!cursor || at < cursor.since || moved) return
    cursor.online = false
    if (!anyOnline(user)) task.setOnline(userId, false)
  }
  task.users.put(userId, user)
}
