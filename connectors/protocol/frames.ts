// The WebSocket protocol between the push gateway and devices (docs/sync.md, "WebSocket
// protocol"): JSON text frames. The gateway and the client library both import this module and
// nothing of each other, so the two ends are written against one definition.
import type {
  DeviceClass,
  RoomEvent,
  SyncEnvelope,
  SyncEvent,
} from '../../schemas/types.generated.js'

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

/**
 * A large group's event (docs/sync.md, "Large groups"), outside the PTS stream: a NewMessage
 * carries the conversation's seq (1, 2, ... without gaps); other events carry seq 0. Not acked:
 * a device that finds a gap pulls it (GET /v1/conversations/:cid/messages?after=<seq>).
 */
export interface RoomFrame {
  type: 'room'
  conversationId: string
  seq: number
  event: SyncEvent
}

/**
 * Sent at log-in and whenever the user's large groups change: each large group's newest seq.
 * The device pulls what it lacks; a large group it no longer finds here it no longer follows.
 */
export interface HeadsFrame {
  type: 'heads'
  conversations: RoomHead[]
}

export interface RoomHead {
  conversationId: string
  seq: number
}

export type ServerFrame = EventsFrame | RebaseFrame | RoomFrame | HeadsFrame

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
  /**
   * The user's home unit changed: their events are pushed there now (the reason names it and
   * its API). Do not reconnect here; reload and connect there from PTS 0 (docs/units.md).
   */
  movedHome: 4002,
} as const

/**
 * Why a device of a user homed in another unit is refused (400) or closed (4002): the home and
 * its API, in a form the client reads back (movedHomeUrl). Short, so a close reason (123 bytes
 * at most) keeps the URL whole for user ids up to about 50 bytes.
 */
export function movedHomeReason(userId: string, unit: string, apiUrl: string | undefined): string {
  const where = apiUrl ? ` (${apiUrl})` : ''
  return `${userId} is homed in unit ${unit}: connect to its push gateway${where}`
}

/** The new home's API named by movedHomeReason; undefined when it names none (or was cut off). */
export function movedHomeUrl(reason: string): string | undefined {
  return /push gateway \((https?:\/\/[^\s()]+)\)/.exec(reason)?.[1]
}

/** The frame for an envelope, serialised once and sent to each of its devices. */
export function serverFrame(content: SyncEnvelope['content']): string {
  const frame: ServerFrame =
    content.kind === 'Rebase'
      ? { type: 'rebase', headPts: content.headPts }
      : { type: 'events', events: content.events }
  return JSON.stringify(frame)
}

export function roomFrame(event: RoomEvent): string {
  const frame: RoomFrame = {
    type: 'room',
    conversationId: event.conversationId,
    seq: event.seq,
    event: event.event,
  }
  return JSON.stringify(frame)
}

export function headsFrame(conversations: RoomHead[]): string {
  const frame: HeadsFrame = { type: 'heads', conversations }
  return JSON.stringify(frame)
}

/** A frame that breaks the protocol; the gateway closes the connection with badFrame. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  /** The API's code for a malformed request (docs/errors.md). */
  readonly code = 'IMF_ERR_BAD_REQUEST'
}

/**
 * A client frame, or undefined for a type this gateway does not know (newer clients may send
 * more; ignoring them keeps old gateways working). Malformed frames throw a ProtocolError.
 */
export function parseClientFrame(text: string): ClientFrame | undefined {
  let frame: unknown
  try {
    frame = JSON.parse(text)
  } catch {
    throw new ProtocolError('a frame must be a JSON object')
  }
  if (typeof frame !== 'object' || frame === null || typeof (frame as AckFrame).type !== 'string')
    throw new ProtocolError('a frame must be a JSON object with a type')
  if ((frame as AckFrame).type !== 'ack') return undefined
  const { pts } = frame as AckFrame
  if (!Number.isSafeInteger(pts) || pts < 0)
    throw new ProtocolError('an ack needs pts, a non-negative integer')
  return { type: 'ack', pts }
}
