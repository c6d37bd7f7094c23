// Which events go to which devices now: each online device is pushed from its last push
// + 1, at most IN_FLIGHT_BATCHES envelopes beyond what it acked. Devices at the same position
// with the same batch size share envelopes (one record on im.sync for both).

import type { SequencedEvent, SyncEnvelope } from '../../schemas/types.generated.js'
import { IN_FLIGHT_BATCHES, type SyncSettings, type UserSync } from './sync-state.js'

export interface PushGroup {
  deviceIds: string[]
  /** Events with from <= PTS <= to. */
  from: number
  to: number
  batchSize: number
}

export function planPush(user: UserSync, settings: SyncSettings): PushGroup[] {
  const groups = new Map<string, PushGroup>()
  for (const [deviceId, cursor] of Object.entries(user.devices)) {
    if (!cursor.online || cursor.pushed >= user.head) continue
    const batchSize = settings.batchSizes[cursor.deviceClass]
    const to = Math.min(user.head, cursor.acked + batchSize * IN_FLIGHT_BATCHES)
    if (to <= cursor.pushed) continue // its window is full: the next ack opens it
    const id = `${cursor.pushed}:${to}:${batchSize}`
    const group = groups.get(id)
    if (group) group.deviceIds.push(deviceId)
    else groups.set(id, { deviceIds: [deviceId], from: cursor.pushed + 1, to, batchSize })
  }
  return [...groups.values()]
}

/** Devices that have fallen so far behind in acking that they get a Rebase, not more pushes. */
export function overwhelmed(user: UserSync, settings: SyncSettings): string[] {
  return Object.entries(user.devices)
    .filter(([, c]) => c.online && user.head - c.acked > settings.rebaseThreshold)
    .map(([deviceId]) => deviceId)
}

export function batchEnvelopes(
  userId: string,
  deviceIds: string[],
  events: readonly SequencedEvent[],
  batchSize: number,
  now: number,
): SyncEnvelope[] {
  const envelopes: SyncEnvelope[] = []
  for (let i = 0; i < events.length; i += batchSize) {
    envelopes.push({
      userId,
      deviceIds,
      createdAt: now,
      content: { kind: 'SyncBatch', events: events.slice(i, i + batchSize) },
    })
  }
  return envelopes
}

export function rebaseEnvelope(
  userId: string,
  deviceIds: string[],
  headPts: number,
  now: number,
): SyncEnvelope {
  return { userId, deviceIds, createdAt: now, content: { kind: 'Rebase', headPts } }
}
