// What the sync topology keeps per user: the head PTS and one cursor per device, in one row
// (a fan-out to a user costs one point lookup), plus the settings that shape pushing.

import type { DeviceEvent, Priority } from '../../schemas/types.generated.js'

export type DeviceClass = Extract<DeviceEvent['event'], { kind: 'LoggedIn' }>['deviceClass']

export interface DeviceCursor {
  online: boolean
  deviceClass: DeviceClass
  /** The gateway instance holding the connection. */
  gateway: string
  /** The newest PTS the device holds: its log-in's lastPts, then its acks. */
  acked: number
  /** The newest PTS pushed to it (never below acked). */
  pushed: number
  /** When the last push went out: unacked pushes are re-sent an ack timeout after it. */
  pushedAt: number
  /** The log-in's time: a log-out of an older connection of the device is ignored. */
  since: number
  /** Re-sends since the last ack; past MAX_RESENDS the device is taken for gone. */
  resends: number
}

export interface UserSync {
  /** The user's newest PTS (0: none yet). */
  head: number
  devices: Record<string, DeviceCursor>
  /** Homed in another geo or unit since ("unit:1"): their stream goes on there (user-moves.ts). */
  movedTo?: string
}

export interface SyncSettings {
  /** A device further behind than this gets a Rebase instead of its backlog. */
  rebaseThreshold: number
  /** Events kept per user in the sync queue. */
  retention: number
  /** Events per envelope, by device class. */
  batchSizes: Readonly<Record<DeviceClass, number>>
  /**
   * How long HIGH events wait to be packed with later transactions' events; 0: a transaction's
   * events go out with it, one envelope per device. LOW waits 4x longer, at least 80 ms.
   */
  packDelayMs: number
  /** Unacked pushes are re-sent after this long. */
  ackTimeoutMs: number
  /** A user with no device online gets one notification per window. */
  notifyWindowMs: number
}

export const defaultSyncSettings: SyncSettings = {
  rebaseThreshold: 1_000,
  retention: 10_000,
  batchSizes: { MOBILE: 50, PAD: 100, WEB: 100, DESKTOP: 200 },
  // A transaction already packs what arrived during the previous one (25-100+ ms on Kafka):
  // waiting longer would add a second transaction to every push.
  packDelayMs: 0,
  ackTimeoutMs: 10_000,
  notifyWindowMs: 2_000,
}

/** Unacked envelopes a device may have at once: a slow device is not flooded. */
export const IN_FLIGHT_BATCHES = 4

/**
 * A device that acks none of this many re-sends lost its connection without a log-out (its
 * gateway died). Re-sends back off (1, 2, 4, ... ack timeouts), so acks merely delayed behind
 * a backlog on im.device-events do not make a live device look gone.
 */
export const MAX_RESENDS = 5

/** When the device's unacked pushes are due again: the ack timeout, doubled per re-send. */
export function resendDue(cursor: DeviceCursor, settings: SyncSettings): number {
  return cursor.pushedAt + settings.ackTimeoutMs * 2 ** cursor.resends
}

/** Low-priority events wait this many pack delays, to be merged with more (DTIM's low-power packing). */
export const LOW_PRIORITY_DELAY_FACTOR = 4
/** ... and at least this long, also when high-priority ones do not wait. */
export const LOW_PRIORITY_MIN_DELAY_MS = 80

export function packDelay(priority: Priority, settings: SyncSettings): number {
  return priority === 'HIGH'
    ? settings.packDelayMs
    : Math.max(LOW_PRIORITY_MIN_DELAY_MS, settings.packDelayMs * LOW_PRIORITY_DELAY_FACTOR)
}

/** How often the wall-clock punctuator looks for what is due (deadlines that no record brings). */
export function tickMs(settings: SyncSettings): number {
  return settings.packDelayMs > 0 ? Math.min(settings.packDelayMs, 50) : 50
}

export function emptyUser(): UserSync {
  return { head: 0, devices: {} }
}

/** The oldest PTS still in the user's queue. */
export function queueTail(head: number, settings: Pick<SyncSettings, 'retention'>): number {
  return Math.max(1, head - settings.retention + 1)
}

/**
 * A device holding `lastPts` gets a Rebase instead of its backlog when the backlog is over
 * the threshold, when part of it has left the queue, or when it claims more than the server
 * has (its state came from elsewhere): it pulls the latest messages and is pushed from the head.
 */
export function needsRebase(head: number, lastPts: number, settings: SyncSettings): boolean {
  if (lastPts > head) return true
  return head - lastPts > settings.rebaseThreshold || lastPts + 1 < queueTail(head, settings)
}

export function anyOnline(user: UserSync): boolean {
  return Object.values(user.devices).some((d) => d.online)
}
