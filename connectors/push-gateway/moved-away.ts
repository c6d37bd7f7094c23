// A device connected here when its user's home moves to another unit would wait in vain: the
// user's events are sequenced and pushed at the new home from then on. Checked at connect (the
// upgrade is refused, ws-route.ts) and, for devices already connected, by a sweep over the users
// this gateway holds every MOVED_SWEEP_MS: each of their connections is closed with
// closeCodes.movedHome and the reason that names the new home, so the device goes there (from
// PTS 0: the new home's stream is another one, docs/units.md) instead of hearing nothing.

import type { WebSocket } from 'ws'
import type { Logger } from '../../ops/log.js'
import { closeCodes } from '../protocol/frames.js'
import type { DeviceSessions } from './sessions.js'

/** How often the users held here are checked against their homes (a lookup each). */
export const MOVED_SWEEP_MS = 2_000

/** A WebSocket close reason is at most 123 bytes. */
const MAX_REASON_BYTES = 123

export function closeReason(text: string): string {
  let reason = text
  while (Buffer.byteLength(reason) > MAX_REASON_BYTES) reason = reason.slice(0, -1)
  return reason
}

/**
 * Closes the connections of users now homed elsewhere (their close handler logs them out);
 * answers how many were closed.
 */
export function closeMovedAway(
  sessions: DeviceSessions<WebSocket>,
  elsewhere: (userId: string) => string | undefined,
): number {
  let closed = 0
  for (const userId of sessions.users()) {
    const away = elsewhere(userId)
    if (away === undefined) continue
    for (const { socket } of sessions.ofUser(userId)) {
      if (socket.readyState !== socket.OPEN) continue
      socket.close(closeCodes.movedHome, closeReason(away))
      closed++
    }
  }
  return closed
}

/** Sweeps every MOVED_SWEEP_MS until the answer is called (the gateway stops). */
export function watchMovedAway(
  sessions: DeviceSessions<WebSocket>,
  elsewhere: (userId: string) => string | undefined,
  log: Logger,
): () => void {
  const timer = setInterval(() => {
    const closed = closeMovedAway(sessions, elsewhere)
    if (closed > 0) log.info('closed the connections of users homed elsewhere now', { closed })
  }, MOVED_SWEEP_MS)
  timer.unref()
  return () => clearInterval(timer)
}
