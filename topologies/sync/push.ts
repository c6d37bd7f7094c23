// Pushing: each online device gets what it lacks from its cursor (or a Rebase when too far
// behind), in envelopes on im.sync; pushes unacked past the timeout are re-sent from the
// last ack, and a device that never acks is taken offline.

import { batchEnvelopes, overwhelmed, planPush, rebaseEnvelope } from './push-plan.js'
import { anyOnline, type DeviceCursor, MAX_RESENDS, resendDue } from './sync-state.js'
import type { SyncTask } from './sync-task.js'

export async function push(task: SyncTask, userId: string, now: number): Promise<void> {
  const user = await task.users.get(userId)
  if (!user) return
  let changed = false
  const behind = overwhelmed(user, task.settings)
  if (behind.length > 0) {
    task.send(rebaseEnvelope(userId, behind, user.head, now))
    for (const deviceId of behind) {
      const cursor = user.devices[deviceId] as DeviceCursor
      cursor.acked = user.head
      cursor.pushed = user.head
    }
    changed = true
  }
  for (const group of planPush(user, task.settings)) {
    const events = []
    for await (const e of task.log.read(userId, group.from, group.to)) events.push(e)
    for (const envelope of batchEnvelopes(userId, group.deviceIds, events, group.batchSize, now)) {
      task.send(envelope)
    }
    for (const deviceId of group.deviceIds) {
      const cursor = user.devices[deviceId] as DeviceCursor
      // Re-sends are timed from the oldest unacked push, not postponed by newer ones.
      if (cursor.pushed <= cursor.acked) cursor.pushedAt = now
      cursor.pushed = group.to
    }
    changed = true
  }
  if (!changed) return
  task.users.put(userId, user)
  task.ackChecks.set(userId, now + task.settings.ackTimeoutMs)
}

/** Unacked pushes past the timeout are re-sent from the last ack. */
export async function checkAcks(task: SyncTask, userId: string, now: number): Promise<void> {
  const user = await task.users.get(userId)
  if (!user) return
  let next = Number.POSITIVE_INFINITY
  let changed = false
  for (const cursor of Object.values(user.devices)) {
    if (!cursor.online || cursor.pushed <= cursor.acked) continue
    const due = resendDue(cursor, task.settings)
    if (due > now) {
      next = Math.min(next, due)
      continue
    }
    changed = true
    if (cursor.resends >= MAX_RESENDS) {
      cursor.online = false
      continue
    }
    cursor.resends += 1
    cursor.pushed = cursor.acked
    task.pushNow(userId, now)
  }
  if (changed) {
    task.users.put(userId, user)
    if (!anyOnline(user)) task.setOnline(userId, false)
  }
  if (next < Number.POSITIVE_INFINITY) task.ackChecks.set(userId, next)
}
