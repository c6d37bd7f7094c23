// What the gateway pushes, applied to the client's state: the PTS stream's frames in order,
// acked once applied (a Rebase's pulls included; a burst of frames with one ack), and large
// groups' frames in seq order, pulling any gap first. Frames come one at a time: the client
// chains them.

import type { EventEmitter } from 'node:events'
import WebSocket from 'ws'
import type { RoomFrame, ServerFrame } from '../protocol/frames.js'
import type { ClientEvents } from './client-events.js'
import type { ClientState } from './client-state.js'
import type { Pulls } from './pulls.js'

/** The client's events that frames emit. */
export type FrameEvents = Pick<ClientEvents, 'events' | 'rebase' | 'messages'>

/**
 * A connection's acks go out at most this often: a burst of frames is acked once, with the
 * newest PTS applied (the gateway reports every ack it reads; re-sends wait seconds for one).
 */
export const ACK_EVERY_MS = 5

export class FrameHandler {
  /** The newest PTS applied and not yet acked, and the connection it is owed on. */
  private owed: { socket: WebSocket; pts: number; timer: NodeJS.Timeout } | undefined

  constructor(
    private readonly state: ClientState,
    private readonly pulls: Pulls,
    /** Where the events go: the client. */
    private readonly events: Pick<EventEmitter<FrameEvents>, 'emit'>,
  ) {}

  async handle(socket: WebSocket, text: string): Promise<void> {
    const frame = JSON.parse(text) as ServerFrame
    if (frame.type === 'events') {
      const { applied, describe, pull } = this.state.applyEvents(frame.events)
      if (applied.length > 0) this.events.emit('events', applied)
      if (describe.size > 0) this.pulls.describeLater(describe)
      if (pull.size > 0) this.pulls.latestLater(pull)
    } else if (frame.type === 'rebase') {
      await this.pulls.rebase(frame.headPts)
      this.events.emit('rebase', frame.headPts)
    } else if (frame.type === 'room') {
      return this.applyRoom(frame) // outside the PTS order: nothing to ack
    } else if (frame.type === 'heads') {
      return this.pulls.catchUp(frame.conversations)
    } else {
      return // a newer server's frame: nothing to apply, nothing to ack
    }
    this.ackSoon(socket, this.state.lastPts)
  }

  private ackSoon(socket: WebSocket, pts: number): void {
    if (this.owed?.socket === socket) {
      this.owed.pts = pts
      return
    }
    clearTimeout(this.owed?.timer) // owed on a connection since replaced: its log-in told
    const timer = setTimeout(() => {
      const owed = this.owed
      this.owed = undefined
      if (owed && socket.readyState === WebSocket.OPEN)
        socket.send(JSON.stringify({ type: 'ack', pts: owed.pts }))
    }, ACK_EVERY_MS)
    timer.unref()
    this.owed = { socket, pts, timer }
  }

  private async applyRoom(frame: RoomFrame): Promise<void> {
    const step = this.state.rooms.step(frame.conversationId, frame.seq)
    if (step.kind === 'skip') return
    if (step.kind === 'pull') await this.pulls.pullAfter(frame.conversationId, step.after)
    const describe = new Set<string>()
    const added = this.state.applyRoomEvent(frame.event, frame.seq, describe)
    if (added) this.events.emit('messages', [added])
    if (describe.size > 0) this.pulls.describeLater(describe)
  }
}
