// The sync topology through the test driver when a user's home moves away (topologies/sync/
// user-moves.ts): her stream here ends (queue, PTS index, devices dropped, the row marked with
// where she went), nothing reaching here for her after is sequenced, pushed or notified, a
// notification still pending goes out once at the move, and moved back she starts anew.

import { beforeEach, describe, expect, it } from 'vitest'
import { createEventCodec, type EventCodec } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type { DeviceEvent, FanoutBatch, UserEvent } from '../../schemas/types.generated.js'
import { SYNC_STORES } from '../../topologies/model/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { syncTopology } from '../../topologies/sync/index.js'
import { type SyncCodecs, settings, syncCodecs, topics } from './sync-support.js'

let codecs: SyncCodecs & { user: EventCodec<UserEvent> }
let driver: TopologyTestDriver
let n = 0

beforeEach(async () => {
  const source = memorySchemaSource()
  codecs = {
    ...(await syncCodecs(source)),
    user: await createEventCodec(source, 'im.users-value', 'UserEvent'),
  }
  const homes = {
    users: 'im.users',
    userCodec: codecs.user,
    // This is unit 0; unit 1 is the only other one.
    away: (user: UserEvent) => (user.unit === '1' ? 'unit:1' : undefined),
  }
  driver = new TopologyTestDriver(syncTopology({ topics, codecs, settings, homes }))
  n = 0
})

async function message(recipients: string[]) {
  n += 1
  const msgId = String(1_000_000 + n)
  const batch: FanoutBatch = {
    partition: 0,
    recipients,
    sourceId: msgId,
    updateLists: true,
    event: {
      priority: 'HIGH',
      payload: {
        kind: 'NewMessage',
        message: {
          msgId,
          conversationId: 'g1',
          senderId: 'ann',
          clientMsgId: `c${n}`,
          type: 'TEXT',
          body: `hello ${n}`,
          priority: 'HIGH',
          visibility: 'NORMAL',
          targets: [],
          createdAt: 1_000 + n,
          sentAt: 1_000 + n,
          seq: 0,
        },
      },
    },
  }
  await driver.pipe(topics.fanout, {
    key: 'g1',
    value: codecs.fanoutBatch.encode(batch),
    timestamp: n,
  })
  await driver.advanceWallClock(settings.packDelayMs)
}

async function homeUnit(userId: string, unit: string) {
  const user: UserEvent = { userId, geo: '', at: n, unit }
  await driver.pipe('im.users', { key: userId, value: codecs.user.encode(user), timestamp: n })
  await driver.advanceWallClock(settings.packDelayMs)
}

async function logIn(userId: string) {
  const event: DeviceEvent = {
    userId,
    deviceId: `${userId}-phone`,
    at: n,
    event: { kind: 'LoggedIn', lastPts: 0, deviceClass: 'MOBILE', gateway: 'gw1' },
  }
  await driver.pipe(topics.deviceEvents, {
    key: userId,
    value: codecs.deviceEvent.encode(event),
    timestamp: n,
  })
  await driver.advanceWallClock(settings.packDelayMs)
}

/** The PTS pushed to each user since the last look, in order. */
async function pushed(): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {}
  for (const r of driver.read(topics.sync)) {
    const envelope = await codecs.syncEnvelope.decode(r.value as Buffer)
    if (envelope.content.kind !== 'SyncBatch') continue
    out[envelope.userId] = [
      ...(out[envelope.userId] ?? []),
      ...envelope.content.events.map((e) => e.pts),
    ]
  }
  return out
}

async function notified(): Promise<string[]> {
  const out: string[] = []
  for (const r of driver.read(topics.notify))
    out.push((await codecs.notification.decode(r.value as Buffer)).userId)
  return out
}

/** Keys a store holds for a user (every sync store's keys start with the user id). */
async function keysOf(store: string, userId: string): Promise<number> {
  let count = 0
  for await (const [key] of driver.store(store).range())
    if (key.subarray(0, userId.length).toString() === userId) count++
  return count
}

const row = async (userId: string) => {
  const bytes = await driver.store(SYNC_STORES.users).get(Buffer.from(userId))
  return bytes && JSON.parse(bytes.toString())
}

describe('sync: a user whose home moves away', () => {
  it('ends her stream here: nothing of it kept, nothing sequenced or pushed for her after', async () => {
    await logIn('kim')
    await message(['kim', 'ann'])
    await message(['kim', 'ann'])
    expect(await pushed()).toEqual({ kim: [1, 2] })
    expect(await keysOf(SYNC_STORES.queue, 'kim')).toBe(2)

    await homeUnit('kim', '1')
    expect(await row('kim')).toEqual({ head: 0, devices: {}, movedTo: 'unit:1' })
    expect(await keysOf(SYNC_STORES.queue, 'kim')).toBe(0)
    expect(await keysOf(SYNC_STORES.ptsIndex, 'kim')).toBe(0)
    expect(await keysOf(SYNC_STORES.online, 'kim')).toBe(0)

    // A hand-off that still reaches here, and a device that still reports here: nothing.
    await message(['kim', 'ann'])
    await logIn('kim')
    await driver.advanceWallClock(settings.ackTimeoutMs * 4)
    expect(await pushed()).toEqual({})
    expect(await notified()).toEqual([])
    expect(await keysOf(SYNC_STORES.queue, 'kim')).toBe(0)
    // ann, homed here, goes on.
    expect(await keysOf(SYNC_STORES.queue, 'ann')).toBe(3)
  })

  it('sends a notification still pending at the move once, then none', async () => {
    await message(['lee'])
    await homeUnit('lee', '1')
    expect(await notified()).toEqual(['lee'])
    await message(['lee'])
    await driver.advanceWallClock(settings.notifyWindowMs * 2)
    expect(await notified()).toEqual([])
  })

  it('starts a new stream when she moves back', async () => {
    await logIn('kim')
    await message(['kim'])
    await homeUnit('kim', '1')
    await homeUnit('kim', '0')
    expect(await row('kim')).toBeUndefined()
    await logIn('kim')
    await message(['kim'])
    expect(await pushed()).toEqual({ kim: [1, 1] })
  })

  it('leaves a user who was never here alone', async () => {
    await homeUnit('max', '1')
    expect(await row('max')).toBeUndefined()
  })
})
