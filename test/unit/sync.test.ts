// The sync topology through the topology test driver, with the real codecs (schemas in
// memory): PTS per user, device cursors, packing, Rebase, re-sends and offline notifications.

import { beforeEach, describe, expect, it } from 'vitest'
import type {
  DeviceEvent,
  FanoutBatch,
  StoredMessage,
  SyncEnvelope,
  SyncEvent,
} from '../../schemas/types.generated.js'
import { SYNC_STORES } from '../../topologies/model/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { syncTopology } from '../../topologies/sync/index.js'
import { type SyncCodecs, settings, syncCodecs, topics } from './sync-support.js'

let codecs: SyncCodecs
let driver: TopologyTestDriver
let seq = 0

beforeEach(async () => {
  codecs = await syncCodecs()
  driver = new TopologyTestDriver(syncTopology({ topics, codecs, settings }))
  seq = 0
})

function stored(overrides: Partial<StoredMessage> = {}): StoredMessage {
  seq += 1
  return {
    msgId: String(1_000_000 + seq),
    conversationId: 'g1',
    senderId: 'alice',
    clientMsgId: `c${seq}`,
    type: 'TEXT',
    body: `hello ${seq}`,
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    createdAt: 1_000 + seq,
    sentAt: 1_000 + seq,
    seq: 0,
    ...overrides,
  }
}

async function deliver(recipients: string[], message = stored(), sourceId = message.msgId) {
  const event: SyncEvent = {
    priority: message.priority,
    payload: { kind: 'NewMessage', message },
  }
  const batch: FanoutBatch = { partition: 0, recipients, sourceId, event, updateLists: true }
  await driver.pipe(topics.fanout, {
    key: 'g1',
    value: codecs.fanoutBatch.encode(batch),
    timestamp: 1,
  })
  return message
}

async function device(userId: string, deviceId: string, event: DeviceEvent['event'], at = 1) {
  const value: DeviceEvent = { userId, deviceId, at, event }
  await driver.pipe(topics.deviceEvents, {
    key: userId,
    value: codecs.deviceEvent.encode(value),
    timestamp: at,
  })
}

const logIn = (
  userId: string,
  deviceId: string,
  lastPts = 0,
  deviceClass: 'MOBILE' | 'DESKTOP' = 'MOBILE',
  at = 1,
) => device(userId, deviceId, { kind: 'LoggedIn', lastPts, deviceClass, gateway: 'gw1' }, at)

async function envelopes(): Promise<SyncEnvelope[]> {
  return Promise.all(
    driver.read(topics.sync).map((r) => codecs.syncEnvelope.decode(r.value as Buffer)),
  )
}

function ptsOf(envelope: SyncEnvelope): number[] {
  return envelope.content.kind === 'SyncBatch' ? envelope.content.events.map((e) => e.pts) : []
}

describe('sync: PTS', () => {
  it('never sequences what a moving user’s old home sent on (movedFrom): no PTS, push or notification', async () => {
    const old = stored({ visibility: 'PRIVATE', targets: ['bob'] })
    const moved: FanoutBatch = {
      partition: 0,
      recipients: ['bob'],
      sourceId: `moved:bob:private:${old.msgId}`,
      event: { priority: 'LOW', payload: { kind: 'NewMessage', message: old } },
      updateLists: false,
      movedFrom: 'unit:0',
    }
    await driver.pipe(topics.fanout, {
      key: 'g1',
      value: codecs.fanoutBatch.encode(moved),
      timestamp: 1,
    })
    await driver.advanceWallClock(settings.notifyWindowMs * 2)
    expect(driver.read(topics.notify)).toEqual([])
    await logIn('bob', 'phone')
    await deliver(['bob'])
    await driver.advanceWallClock(settings.packDelayMs)
    expect((await envelopes()).flatMap(ptsOf)).toEqual([1])
  })

  it('gives each recipient the next PTS of their own, and a replayed event the one it has', async () => {
    await deliver(['bob', 'carol'])
    await deliver(['bob'])
    const replayed = stored()
    await deliver(['bob', 'carol'], replayed)
    await deliver(['bob', 'carol'], replayed) // the same source event again
    const queue = driver.store(SYNC_STORES.queue)
    const keys: string[] = []
    for await (const [key] of queue.range()) {
      keys.push(
        `${key.subarray(0, key.indexOf(0)).toString()}:${key.readBigUInt64BE(key.length - 8)}`,
      )
    }
    expect(keys).toEqual(['bob:1', 'bob:2', 'bob:3', 'carol:1', 'carol:2'])
  })

  it('keeps the last `retention` events per user', async () => {
    for (let i = 0; i < settings.retention + 5; i++) await deliver(['bob'])
    let count = 0
    let first: bigint | undefined
    for await (const [key] of driver.store(SYNC_STORES.queue).range()) {
      first ??= key.readBigUInt64BE(key.length - 8)
      count++
    }
    expect(count).toBe(settings.retention)
    expect(first).toBe(6n)
  })
})

describe('sync: devices', () => {
  it('packs events that arrive within the pack delay into one envelope for both devices', async () => {
    await logIn('bob', 'phone')
    await logIn('bob', 'laptop')
    await deliver(['bob'])
    await deliver(['bob'])
    expect(await envelopes()).toEqual([]) // still packing
    await driver.advanceWallClock(settings.packDelayMs)
    const [envelope, ...rest] = await envelopes()
    expect(rest).toEqual([])
    expect(envelope?.deviceIds.sort()).toEqual(['laptop', 'phone'])
    expect(ptsOf(envelope as SyncEnvelope)).toEqual([1, 2])
  })

  it('with no pack delay (the default), pushes the events of a transaction with it, one envelope per device', async () => {
    driver = new TopologyTestDriver(
      syncTopology({ topics, codecs, settings: { ...settings, packDelayMs: 0 } }),
    )
    await logIn('bob', 'phone')
    const fanout = [stored(), stored(), stored()].map((message) => ({
      key: 'g1',
      timestamp: 1,
      value: codecs.fanoutBatch.encode({
        partition: 0,
        recipients: ['bob'],
        sourceId: message.msgId,
        event: { priority: 'HIGH', payload: { kind: 'NewMessage', message } },
        updateLists: true,
      } satisfies FanoutBatch),
    }))
    await driver.pipeSlice(topics.fanout, fanout) // one transaction, no clock moved
    expect((await envelopes()).map(ptsOf)).toEqual([[1, 2, 3]])
    await deliver(['bob'], stored({ priority: 'LOW' }))
    expect(await envelopes()).toEqual([]) // low priority still waits to be packed with more
    await driver.advanceWallClock(80)
    expect((await envelopes()).map(ptsOf)).toEqual([[4]])
  })

  it('lets low-priority events wait longer to be packed with more', async () => {
    await logIn('bob', 'phone')
    await deliver(['bob'], stored({ priority: 'LOW' }))
    await driver.advanceWallClock(settings.packDelayMs)
    expect(await envelopes()).toEqual([])
    await driver.advanceWallClock(settings.packDelayMs * 3)
    expect((await envelopes()).map(ptsOf)).toEqual([[1]])
  })

  it('pushes a backlog below the threshold from the device cursor, in batches of its class', async () => {
    for (let i = 0; i < 12; i++) await deliver(['bob'])
    await logIn('bob', 'phone', 3)
    const pushed = await envelopes()
    expect(pushed.map(ptsOf)).toEqual([
      [4, 5, 6, 7, 8],
      [9, 10, 11, 12],
    ])
    expect(pushed.every((e) => e.deviceIds.join() === 'phone')).toBe(true)
  })

  it('gives a device too far behind one Rebase with the head, then only new events', async () => {
    for (let i = 0; i < settings.rebaseThreshold + 1; i++) await deliver(['bob'])
    await logIn('bob', 'pad', 0)
    const [rebase, ...rest] = await envelopes()
    expect(rest).toEqual([])
    expect(rebase?.content).toEqual({ kind: 'Rebase', headPts: settings.rebaseThreshold + 1 })
    await deliver(['bob'])
    await driver.advanceWallClock(settings.packDelayMs)
    expect((await envelopes()).map(ptsOf)).toEqual([[settings.rebaseThreshold + 2]])
  })

  it('rebases a device that claims more than the server has', async () => {
    await deliver(['bob'])
    await logIn('bob', 'phone', 50)
    expect((await envelopes())[0]?.content).toEqual({ kind: 'Rebase', headPts: 1 })
  })

  it('never has more than four batches unacked, and an ack opens the window', async () => {
    await logIn('bob', 'phone', 0)
    for (let i = 0; i < 30; i++) await deliver(['bob'])
    await driver.advanceWallClock(settings.packDelayMs)
    expect((await envelopes()).flatMap(ptsOf)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    await device('bob', 'phone', { kind: 'Acked', pts: 20 })
    expect((await envelopes()).flatMap(ptsOf)).toEqual(Array.from({ length: 10 }, (_, i) => i + 21))
  })

  it('never takes an ack past what the device was pushed: the event sequenced meanwhile still goes out', async () => {
    await logIn('bob', 'phone', 0)
    await deliver(['bob']) // sequenced; pushed with the pack delay
    await device('bob', 'phone', { kind: 'Acked', pts: 1_000_000_000 })
    await driver.advanceWallClock(settings.packDelayMs)
    expect((await envelopes()).map(ptsOf)).toEqual([[1]])
  })

  it('re-sends unacked events after the ack timeout, from the last ack', async () => {
    await logIn('bob', 'phone', 0)
    await deliver(['bob'])
    await deliver(['bob'])
    await driver.advanceWallClock(settings.packDelayMs)
    expect((await envelopes()).map(ptsOf)).toEqual([[1, 2]])
    await device('bob', 'phone', { kind: 'Acked', pts: 1 })
    await driver.advanceWallClock(settings.ackTimeoutMs)
    expect((await envelopes()).map(ptsOf)).toEqual([[2]])
    await device('bob', 'phone', { kind: 'Acked', pts: 2 })
    await driver.advanceWallClock(settings.ackTimeoutMs * 2)
    expect(await envelopes()).toEqual([])
  })

  it('takes a device that acks no re-send for gone, and then notifies instead', async () => {
    await logIn('bob', 'phone', 0)
    await deliver(['bob'])
    // Pushed at 1 s; re-sent after 1, 2, 4, 8 and 16 more ack timeouts; given up 32 after that.
    for (let i = 0; i < 63; i++) await driver.advanceWallClock(settings.ackTimeoutMs)
    expect((await envelopes()).map(ptsOf)).toEqual([[1], [1], [1], [1], [1], [1]])
    await deliver(['bob']) // a newer push does not postpone giving up
    await driver.advanceWallClock(settings.packDelayMs)
    expect((await envelopes()).map(ptsOf)).toEqual([[2]])
    await driver.advanceWallClock(settings.ackTimeoutMs)
    await deliver(['bob'])
    await driver.advanceWallClock(settings.notifyWindowMs)
    expect(driver.read(topics.notify)).toHaveLength(1)
    expect(await envelopes()).toEqual([])
  })

  it('ignores a log-out of a connection the device has since replaced, here or on another gateway', async () => {
    await logIn('bob', 'phone', 0, 'MOBILE', 10)
    await device('bob', 'phone', { kind: 'LoggedOut', gateway: 'gw1' }, 5)
    await deliver(['bob'])
    await driver.advanceWallClock(settings.packDelayMs)
    expect((await envelopes()).map(ptsOf)).toEqual([[1]])
    await device('bob', 'phone', { kind: 'LoggedOut', gateway: 'gw0' }, 30) // the gateway it left
    await deliver(['bob'])
    await driver.advanceWallClock(settings.packDelayMs)
    expect((await envelopes()).map(ptsOf)).toEqual([[2]])
    await device('bob', 'phone', { kind: 'LoggedOut', gateway: 'gw1' }, 20)
    await deliver(['bob'])
    await driver.advanceWallClock(settings.packDelayMs)
    expect(await envelopes()).toEqual([])
  })
})

describe('sync: offline notifications', () => {
  it('coalesces a burst for a user with no device online into one notification', async () => {
    for (let i = 0; i < 50; i++)
      await deliver(['bob', 'alice'], stored({ conversationId: i % 2 ? 'g1' : 'g2' }))
    await driver.advanceWallClock(settings.notifyWindowMs - 1)
    expect(driver.read(topics.notify)).toEqual([])
    await driver.advanceWallClock(settings.packDelayMs) // the next tick
    const sent = await Promise.all(
      driver.read(topics.notify).map((r) => codecs.notification.decode(r.value as Buffer)),
    )
    // alice sent them all: only bob is told.
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ userId: 'bob', count: 50, conversationIds: ['g2', 'g1'] })
    expect(sent[0]?.preview).toBe('alice: hello 50')
  })

  it('drops the pending notification when a device comes online and pushes it the backlog', async () => {
    await deliver(['bob'])
    await logIn('bob', 'phone', 0)
    await driver.advanceWallClock(settings.notifyWindowMs)
    expect(driver.read(topics.notify)).toEqual([])
    expect((await envelopes()).map(ptsOf)).toEqual([[1]])
  })
})
