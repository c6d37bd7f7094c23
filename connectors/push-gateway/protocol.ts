// The WebSocket protocol between the push gateway and devices (docs/sync.md, "WebSocket
// protocol"): JSON text frames. The client library imports these types, so the two ends are
// written against one definition.

import { ImflowError } from '../../ops/errors.js'
import type { DeviceClass, SyncEnvelope, SyncEvent } from '../../schemas/types.generated.js'

/** Events in strictly increasing PTS order; longs are JSON numbers, unions carry `kind`. */
export interface EventsFrame {
  type: 'events'
  events: { pts: number; event: SyncEvent }[]
}

/** The device is too far behind: pull the latest pages over the API, continue from headPts. */
export interface RebaseFrame {
  type: 'rebase'
  headPts: number
}

export type ServerFrame = EventsFrame | RebaseFrame

/** The device holds (has applied) every event up to pts. */
export interface AckFrame {
  type: 'ack'
  pts: number
}

export type ClientFrame = AckFrame

export const deviceClasses: readonly DeviceClass[] = ['MOBILE', 'DESKTOP', 'WEB', 'PAD']

/** Close codes the gateway uses; 4000-4999 are the application's own range. */
export const closeCodes = {
  /** The gateway is stopping: reconnect (to another instance) with the last PTS. */
  goingAway: 1001,
  /** A frame the gateway does not understand. */
  badFrame: 1007,
  /** The gateway could not record the log-in: reconnect after a pause. */
  internalError: 1011,
  /** The same device connected again: this older connection is done; do not reconnect. */
  replaced: 4001,
} as const

/** The frame for an envelope, serialised once and sent to each of its devices. */
export function serverFrame(content: SyncEnvelope['content']): string {
  const frame: ServerFrame =
    content.kind === 'Rebase'
      ? { type: 'rebase', headPts: content.headPts }
      : { type: 'events', events: content.events }
  return JSON.stringify(frame)
}

/**
 * A client frame, or undefined for a type this gateway does not know (newer clients may send
 * more; ignoring them keeps old gateways working). Malformed frames are IMF_ERR_BAD_REQUEST.
 */
export function parseClientFrame(text: string): ClientFrame | undefined {
  let frame: unknown
  try {
    frame = JSON.parse(text)
  } catch {
    throw new ImflowError('IMF_ERR_BAD_REQUEST', 'a frame must be a JSON object')
  }
  if (typeof frame !== 'object' || frame === null || typeof (frame as AckFrame).type !== 'string')
    throw new ImflowError('IMF_ERR_BAD_REQUEST', 'a frame must be a JSON object with a type')
  if ((frame as AckFrame).type !== 'ack') return undefined
  const { pts } = frame as AckFrame
  if (!Number.isSafeInteger(pts) || pts < 0)
    throw new ImflowError('IMF_ERR_BAD_REQUEST', 'an ack needs pts, a non-negative integer')
  return { type: 'ack', pts }
}
