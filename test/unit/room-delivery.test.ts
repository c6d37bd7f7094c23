// The gateway's large-group delivery with sockets that record what they are sent: room events
// reach the followers' devices only; events arriving while a log-in looks its groups up are
// replayed after the heads frame; a burst of membership events is one look-up; a membership
// event that arrives before the user's list has caught up still counts; a member the room names
// as removed gets nothing more of it, even during a log-in; the last device gone, the user is
// forgotten.

import { describe, expect, it } from 'vitest'
import type { ServerFrame } from '../../connectors/protocol/frames.js'
import { RoomDelivery, type RoomDirectory } from '../../connectors/push-gateway/room-delivery.js'
import { type DeviceSession, DeviceSessions } from '../../connectors/push-gateway/sessions.js'
import { silentLogger } from '../../ops/log.js'
import type { RoomEvent, SequencedEvent } from '../../schemas/types.generated.js'

/**
 * Records frames, and how many each write to the TCP socket carried (decoded from the bytes as
 * a device would: wire-frame.test.ts checks them against ws' own parser). With an extension
 * negotiated (compression), frames must go through ws' send instead, one by one.
 */
class FakeSocket {
  readonly OPEN = 1
  readyState = 1
  readonly frames: ServerFrame[] = []
  readonly writes: number[] = []
  constructor(readonly extensions = '') {}
  readonly _socket = {
    write: (bytes: Buffer) => {
      let frames = 0
      for (let at = 0; at < bytes.length; frames++) {
        const short = (bytes[at + 1] as number) & 0x7f
        const header = short < 126 ? 2 : short === 126 ? 4 : 10
        const length =
          short < 126
            ? short
            : short === 126
              ? bytes.readUInt16BE(at + 2)
              : Number(bytes.readBigUInt64BE(at + 2))
        this.frames.push(JSON.parse(bytes.toString('utf8', at + header, at + header + length)))
        at += header + length
      }
      this.writes.push(frames)
      return true
    },
  }
  send(data: Buffer) {
    if (this.extensions === '') throw new Error('uncompressed frames go to the TCP socket')
    this.frames.push(JSON.parse(data.toString()))
    this.writes.push(1)
  }
}

/** Frames are written at the end of the event loop's turn. */
const written = () => new Promise((r) => setImmediate(r))

const roomEvent = (conversationId: string, seq: number): RoomEvent => ({
  conversationId,
  seq,
  createdAt: 1,
  event: {
    priority: 'HIGH',
    payload: { kind: 'ConversationChanged', conversationId, description: `#${seq}` },
  },
  removed: [],
})

/** The receiver's notice, in the room, of members who left a large group. */
const removedFrom = (conversationId: string, removed: string[]): RoomEvent => ({
  conversationId,
  seq: 0,
  createdAt: 1,
  event: {
    priority: 'LOW',
    payload: { kind: 'MembershipChanged', conversationId, member: false },
  },
  removed,
})

const joined = (conversationId: string): SequencedEvent => ({
  pts: 1,
  event: { priority: 'LOW', payload: { kind: 'MembershipChanged', conversationId, member: true } },
})

/** `groups` is what each user's list shows; `memberOf`, where given, is the source of truth. */
function setup(groups: Map<string, string[]>, memberOf: Map<string, string[]> = groups) {
  const sessions = new DeviceSessions<FakeSocket>()
  const lookups: string[] = []
  let release: (() => void) | undefined
  let hold = false
  const directory: RoomDirectory = {
    async largeGroupsOf(userId) {
      lookups.push(userId)
      if (hold) await new Promise<void>((r) => (release = r))
      return (groups.get(userId) ?? []).map((conversationId) => ({ conversationId, seq: 3 }))
    },
    async largeGroup(userId, conversationId) {
      return memberOf.get(userId)?.includes(conversationId) ? { conversationId, seq: 3 } : undefined
    },
  }
  const rooms = new RoomDelivery(sessions, directory, silentLogger)
  const connect = (userId: string, deviceId: string, extensions = '') => {
    const session: DeviceSession<FakeSocket> = {
      userId,
      deviceId,
      socket: new FakeSocket(extensions),
    }
    sessions.add(session)
    return session
  }
  return {
    sessions,
    rooms,
    lookups,
    connect,
    /** Starts a log-in whose look-up is held; the function returned answers it and waits for the writes. */
    loginHeld: async (session: DeviceSession<FakeSocket>) => {
      hold = true
      const login = rooms.login(session, 't')
      await new Promise((r) => setImmediate(r))
      return async () => {
        hold = false
        release?.()
        await login
        await written()
      }
    },
  }
}

describe('RoomDelivery', () => {
  it('pushes a room event to the devices of the group’s followers, after their heads', async () => {
    const { rooms, connect } = setup(new Map([['ann', ['big']]]))
    const phone = connect('ann', 'phone')
    const other = connect('bob', 'phone')
    await rooms.login(phone, 't')
    await rooms.login(other, 't')
    expect(rooms.deliver(roomEvent('big', 0))).toBe(1)
    expect(rooms.deliver(roomEvent('elsewhere', 0))).toBe(0)
    await written()
    expect(phone.socket.frames.map((f) => f.type)).toEqual(['heads', 'room'])
    expect(phone.socket.frames[0]).toEqual({
      type: 'heads',
      conversations: [{ conversationId: 'big', seq: 3 }],
    })
    expect(other.socket.frames).toEqual([{ type: 'heads', conversations: [] }])
  })

  it('replays what arrived during the look-up, after the heads frame', async () => {
    const { rooms, connect, loginHeld } = setup(new Map([['ann', ['big']]]))
    const phone = connect('ann', 'phone')
    const answer = await loginHeld(phone)
    rooms.deliver(roomEvent('big', 4)) // nobody follows it yet
    rooms.deliver(roomEvent('other', 5))
    await answer()
    expect(phone.socket.frames).toEqual([
      { type: 'heads', conversations: [{ conversationId: 'big', seq: 3 }] },
      { type: 'room', conversationId: 'big', seq: 4, event: roomEvent('big', 4).event },
    ])
  })

  it('looks a user up once for a burst of membership events, and forgets them with their last device', async () => {
    const groups = new Map([['ann', ['big']]])
    const { rooms, connect, lookups, sessions } = setup(groups)
    const phone = connect('ann', 'phone')
    await rooms.login(phone, 't')
    groups.set('ann', ['big', 'new'])
    rooms.onUserEvents('ann', [joined('new')])
    rooms.onUserEvents('ann', [joined('new')])
    rooms.onUserEvents('ann', [joined('new')])
    await new Promise((r) => setTimeout(r, 10))
    expect(lookups).toEqual(['ann', 'ann'])
    expect(rooms.deliver(roomEvent('new', 1))).toBe(1)
    sessions.remove(phone)
    rooms.logout('ann')
    expect(rooms.deliver(roomEvent('big', 1))).toBe(0)
  })

  it('follows a group a membership event names even while the user’s list lags behind it', async () => {
    // The list (kept by the inbox topology) has neither change yet; the receiver has both.
    const list = new Map([['ann', ['old']]])
    const truth = new Map([['ann', ['new']]])
    const { rooms, connect } = setup(list, truth)
    const phone = connect('ann', 'phone')
    await rooms.login(phone, 't')
    expect(rooms.deliver(roomEvent('old', 1))).toBe(1)
    const left: SequencedEvent = {
      pts: 2,
      event: {
        priority: 'LOW',
        payload: { kind: 'MembershipChanged', conversationId: 'old', member: false },
      },
    }
    rooms.onUserEvents('ann', [joined('new'), left])
    await new Promise((r) => setTimeout(r, 10))
    expect(phone.socket.frames.at(-1)).toEqual({
      type: 'heads',
      conversations: [{ conversationId: 'new', seq: 3 }],
    })
    expect(rooms.deliver(roomEvent('new', 1))).toBe(1)
    expect(rooms.deliver(roomEvent('old', 2))).toBe(0)
  })

  it('stops pushing a group to members the room names as removed, before their own events say so', async () => {
    const { rooms, connect } = setup(
      new Map([
        ['ann', ['big']],
        ['bob', ['big']],
      ]),
    )
    const ann = connect('ann', 'phone')
    const bob = connect('bob', 'phone')
    await rooms.login(ann, 't')
    await rooms.login(bob, 't')
    expect(rooms.deliver(roomEvent('big', 4))).toBe(2)
    expect(rooms.deliver(removedFrom('big', ['ann']))).toBe(0) // for the gateway, not devices
    expect(rooms.deliver(roomEvent('big', 5))).toBe(1)
    await written()
    const roomSeqs = (s: FakeSocket) => s.frames.flatMap((f) => (f.type === 'room' ? [f.seq] : []))
    expect(roomSeqs(ann.socket)).toEqual([4])
    expect(roomSeqs(bob.socket)).toEqual([4, 5])
  })

  it('applies a removal that arrives during a log-in’s look-up in order with what it replays', async () => {
    const { rooms, connect, loginHeld } = setup(new Map([['ann', ['big']]]))
    const phone = connect('ann', 'phone')
    const answer = await loginHeld(phone)
    rooms.deliver(roomEvent('big', 4)) // before the removal: hers
    rooms.deliver(removedFrom('big', ['ann']))
    rooms.deliver(roomEvent('big', 5)) // after it: not hers
    await answer() // the look-up was answered before the removal
    expect(phone.socket.frames.map((f) => (f.type === 'room' ? f.seq : f.type))).toEqual([
      'heads',
      4,
    ])
    expect(rooms.deliver(roomEvent('big', 6))).toBe(0)
  })

  it('looks the user up again after a Rebase, whose skipped events may have changed their groups', async () => {
    const groups = new Map([['ann', ['big']]])
    const { rooms, connect, lookups } = setup(groups)
    const phone = connect('ann', 'phone')
    await rooms.login(phone, 't')
    groups.set('ann', [])
    rooms.refresh('ann')
    await new Promise((r) => setTimeout(r, 10))
    expect(lookups).toEqual(['ann', 'ann'])
    expect(rooms.deliver(roomEvent('big', 4))).toBe(0)
    rooms.refresh('nobody') // not connected here: nothing to look up
    expect(lookups).toHaveLength(2)
  })

  it('writes every frame a socket got in one turn as one write, in order', async () => {
    const { rooms, connect } = setup(new Map([['ann', ['big', 'other']]]))
    const phone = connect('ann', 'phone')
    await rooms.login(phone, 't')
    await written()
    expect(phone.socket.writes).toEqual([1]) // the heads frame alone
    for (const seq of [4, 5, 6]) rooms.deliver(roomEvent('big', seq))
    rooms.deliver(roomEvent('other', 1))
    expect(phone.socket.frames).toHaveLength(1) // nothing written yet in this turn
    await written()
    expect(phone.socket.writes).toEqual([1, 4])
    expect(phone.socket.frames.slice(1).map((f) => f.type === 'room' && f.seq)).toEqual([
      4, 5, 6, 1,
    ])
    phone.socket.readyState = 3 // closed: nothing is queued for it
    rooms.deliver(roomEvent('big', 7))
    await written()
    expect(phone.socket.frames).toHaveLength(5)
  })
  it('sends frame by frame through ws when a compression extension was negotiated', async () => {
    const { rooms, connect } = setup(new Map([['ann', ['big']]]))
    const phone = connect('ann', 'phone', 'permessage-deflate')
    await rooms.login(phone, 't')
    for (const seq of [4, 5]) rooms.deliver(roomEvent('big', seq))
    await written()
    expect(phone.socket.writes).toEqual([1, 1, 1])
    expect(phone.socket.frames.map((f) => f.type)).toEqual(['heads', 'room', 'room'])
  })

  it('writes a room event to at most 1,000 sockets per turn of the event loop', async () => {
    const { rooms, connect } = setup(new Map([['ann', ['big']]]))
    const devices = Array.from({ length: 2_500 }, (_, i) => connect('ann', `d${i}`))
    await rooms.login(devices[0] as DeviceSession<FakeSocket>, 't')
    await written() // the heads frame: on the first device only
    expect(rooms.deliver(roomEvent('big', 4))).toBe(2_500)
    const reached = () =>
      devices.filter((d) => d.socket.frames.some((f) => f.type === 'room')).length
    const turns: number[] = []
    for (let turn = 0; turn < 4; turn++) {
      await written()
      turns.push(reached())
    }
    expect(turns).toEqual([1_000, 2_000, 2_500, 2_500])
  })
})
