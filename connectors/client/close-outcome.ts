// What the client does when its WebSocket to the gateway closes: connect again, follow the
// user to their new home, or stop. Pure, so each close code and refusal is unit-tested alone.
// A refusal (an HTTP answer instead of the upgrade) comes before any close frame: ws then
// closes the socket with 1006, so a refusal and a gateway's close code never speak together.

import { ImflowClientError } from '../protocol/client-errors.js'
import { closeCodes, movedHomeUrl } from '../protocol/frames.js'
import type { Refusal } from './gateway-socket.js'

export interface ClosedSocket {
  code: number
  /** The close frame's reason ('' when there was none). */
  reason: string
  /** The gateway refused the connection (an HTTP answer instead of the upgrade). */
  refused?: Refusal
  /** close() was called: nothing follows. */
  closing: boolean
}

export type CloseOutcome =
  /** Connect again to the same gateway, backing off, with the last PTS. */
  | { kind: 'reconnect' }
  /** The user's home moved: its API and gateway are at `url` now (connect there from PTS 0). */
  | { kind: 'follow'; url: string }
  /** Do not connect again; `error` rejects a first connect() still waiting (a refusal). */
  | { kind: 'final'; error?: ImflowClientError }

export function closeOutcome({ code, reason, refused, closing }: ClosedSocket): CloseOutcome {
  // Closed because the user moved, or refused because they had (a connection made after the
  // move, to the old home): either names the new home's API.
  const home =
    code === closeCodes.movedHome
      ? movedHomeUrl(reason)
      : refused?.status === 400
        ? movedHomeUrl(refused.detail)
        : undefined
  if (home !== undefined && !closing) return { kind: 'follow', url: home }
  // A newer connection of this device replaced this one: the device lives there now. A move
  // whose reason names no API leaves it to the application. A refused token or request will be
  // refused again.
  const final =
    closing ||
    code === closeCodes.replaced ||
    code === closeCodes.movedHome ||
    refused?.status === 401 ||
    refused?.status === 400
  if (!final) return { kind: 'reconnect' }
  if (refused === undefined) return { kind: 'final' }
  return {
    kind: 'final',
    error: new ImflowClientError(
      refused.status === 401 ? 'IMF_ERR_UNAUTHORIZED' : 'IMF_ERR_BAD_REQUEST',
      `the push gateway refused the connection (${refused.status})`,
    ),
  }
}
