// Peak shaving decides by event time (the records' time, capped by the clock, never back),
// through the topology test driver: a backlog sent at normal rates and processed late and
// fast is not throttled, a real burst in send time is, whenever it is processed, and the
// same input gives the same receipts at any processing speed.

import { describe, expect, it } from 'vitest'
import type { ConversationEvent, Receipt, SendMessage } from '../../schemas/types.generated.js'
import { receiverTopology } from '../../topologies/receiver/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { adaptCapacity } from '../../topologies/shaping/capacity.js'
import { type Limits, shaping } from '../../topologies/shaping/index.js'
import { Overload } from '../../topologies/shaping/overload.js'
import { StreamTime } from '../../topologies/shaping/stream-time.js'
import { receiverCodecs, receiverTopics as topics } from './receiver-codecs.js'

const off = { default: null, overrides: {} }
const T0 = Date.UTC(2026, 10, 26, 12)
const MINUTE = 60_000

/** Capacity 10/s per task, 5/s per user (burst 5): the limits every case runs under. */
const limits: Limits = {
  capacity: 10,
  lowDeadlineMs: 3_000,
  conversation: off,
  user: { default: { rate: 5, burst: 5 }, overrides: {} },
  clientType: off,
  application: off,
}

interface Send {
  /** When it was written to im.ingest (its record's timestamp). */
  sentAt: number
  conversationId: string
  senderId: string
}

/**
 * Runs `sends` through a receiver with shaping whose clock starts at `startAt` and moves
 * `speed` times as fast as the sends were written; the receipts' outcomes, in order.
 */
async function run(sends: readonly Send[], startAt: number, speed: number) {
  const codecs = await receiverCodecs()
  let now = startAt
  const clock = () => now
  const driver = new TopologyTestDriver(
    receiverTopology({
      topics,
      codecs,
      unit: 0,
      userPartitions: 2,
      largeGroupThreshold: 100,
      clock,
      admission: shaping({
        limits: () => limits,
        targetLatencyMs: 0,
        largeGroupMembers: 100,
        lowQueueMax: 1_000,
        clock,
      }),
    }),
  )
  for (const [conversationId, size] of [
    ['big', 1_000],
    ['dm', 2],
  ] as const) {
    const event: ConversationEvent = {
      conversationId,
      actorId: null,
      at: T0 - 60 * MINUTE,
      change: {
        kind: 'ConversationCreated',
        conversationType: 'GROUP',
        members: Array.from({ length: size }, (_, i) => `${conversationId}-u${i}`),
        admins: [],
        unit: '',
      },
    }
    await driver.pipe(topics.conversations, {
      key: conversationId,
      value: codecs.conversationEvent.encode(event),
      timestamp: T0 - 60 * MINUTE,
    })
  }
  const outcomes: Receipt['outcome'][] = []
  const first = sends[0]?.sentAt ?? T0
  for (const [n, s] of sends.entries()) {
    const at = startAt + Math.round((s.sentAt - first) / speed)
    if (at > now) {
      const step = at - now
      now = at
      await driver.advanceWallClock(step)
    }
    const m: SendMessage = {
      conversationId: s.conversationId,
      clientMsgId: `c${n}`,
      senderId: s.senderId,
      type: 'TEXT',
      body: `m${n}`,
      priority: 'HIGH',
      visibility: 'NORMAL',
      targets: [],
      sentAt: s.sentAt,
    }
    await driver.pipe(topics.ingest, {
      key: s.conversationId,
      value: codecs.sendMessage.encode(m),
      timestamp: s.sentAt,
    })
    const [out] = driver.read(topics.receipts)
    outcomes.push((await codecs.receipt.decode(out?.value as Buffer)).outcome)
  }
  return outcomes
}

const kinds = (outcomes: Receipt['outcome'][]) => outcomes.map((o) => o.kind)
const throttled = (outcomes: Receipt['outcome'][]) =>
  outcomes.filter((o) => o.kind === 'Throttled').length

/** 30 s of traffic at `perSecond` from `users` senders in turn, starting at `from`. */
function steady(from: number, perSecond: number, users: number, conversationId = 'big'): Send[] {
  return Array.from({ length: 30 * perSecond }, (_, i) => ({
    sentAt: from + Math.round((i * 1_000) / perSecond),
    conversationId,
    senderId: `${conversationId}-u${i % users}`,
  }))
}

describe('shaping by event time', () => {
  it('throttles nothing of a backlog sent at normal rates, processed 10 minutes late at 10x', async () => {
    // 8 messages/s (the capacity is 10), 4 a second from each of two senders (their limit is 5).
    const backlog = steady(T0 - 10 * MINUTE, 8, 2)
    const outcomes = await run(backlog, T0, 10)
    expect(kinds(outcomes).every((k) => k === 'Accepted')).toBe(true)
    // Processed live, at the pace it was sent, it is accepted too.
    expect(kinds(await run(backlog, T0 - 10 * MINUTE, 1))).toEqual(kinds(outcomes))
  }, 60_000)

  it('throttles a real burst in send time as it would live, however late it is processed', async () => {
    // 3 s of 40 messages/s from 20 senders (4x the capacity), inside calm traffic.
    const from = T0 - 10 * MINUTE
    const burst = Array.from({ length: 120 }, (_, i) => ({
      sentAt: from + 10_000 + i * 25,
      conversationId: 'big',
      senderId: `big-u${i % 20}`,
    }))
    const sends = [...steady(from, 2, 2, 'dm').filter((s) => s.sentAt < from + 10_000), ...burst]
    const live = await run(sends, from, 1)
    const late = await run(sends, T0, 10)
    expect(throttled(live)).toBeGreaterThan(60)
    expect(live.filter((o) => o.kind === 'Throttled' && o.reason === 'OVERLOAD').length).toBe(
      throttled(live),
    )
    expect(late).toEqual(live)
  }, 60_000)

  it('throttles one sender over its limit in send time, processed live or late', async () => {
    // 10 messages/s from one sender (its limit is 5, burst 5), at half the capacity.
    const sends = steady(T0 - 10 * MINUTE, 10, 1, 'dm').slice(0, 50)
    const live = await run(sends, T0 - 10 * MINUTE, 1)
    expect(live.filter((o) => o.kind === 'Throttled' && o.reason === 'USER_RATE').length).toBe(
      throttled(live),
    )
    expect(throttled(live)).toBeGreaterThan(15)
    expect(await run(sends, T0, 10)).toEqual(live)
    expect(await run(sends, T0, 1_000)).toEqual(live)
  }, 60_000)

  it('decides a record whose time goes back at the time already reached', async () => {
    // One sender (5/s, burst 5): 5 at 10 s empty its bucket; one stamped 5 s earlier is
    // decided at 10 s (throttled), and 200 ms later one token is back, not the 5 s of
    // refill a bucket taken back to 5 s would give.
    const at = (sentAt: number): Send => ({ sentAt, conversationId: 'dm', senderId: 'dm-u1' })
    const sends = [
      ...Array.from({ length: 5 }, () => at(T0 + 10_000)),
      at(T0 + 5_000),
      ...Array.from({ length: 3 }, () => at(T0 + 10_200)),
    ]
    const outcomes = await run(sends, T0 + 20_000, 1)
    expect(kinds(outcomes)).toEqual([
      ...Array(5).fill('Accepted'),
      'Throttled',
      'Accepted',
      'Throttled',
      'Throttled',
    ])
  }, 60_000)
})

describe('stream time', () => {
  it('follows the records, capped by the clock, and never goes back', () => {
    let clock = 10_000
    const time = new StreamTime(() => clock)
    expect(time.current()).toBeUndefined()
    expect(time.observe(5_000)).toBe(5_000)
    expect(time.observe(4_000)).toBe(5_000)
    expect(time.observe(60_000)).toBe(10_000)
    clock = 20_000
    expect(time.observe(6_000)).toBe(10_000)
    expect(time.observe(12_000)).toBe(12_000)
    expect(time.current()).toBe(12_000)
  })

  it('goes on after a restart or a rollback from the time saved with the last commit', () => {
    const time = new StreamTime(() => 100_000)
    time.reset(50_000)
    expect(time.observe(40_000)).toBe(50_000)
    expect(time.observe(60_000)).toBe(60_000)
    // Rolled back: the records after 50 s are read again and decided as the first time.
    time.reset(50_000)
    expect(time.observe(55_000)).toBe(55_000)
  })
})

describe('adaptive capacity while catching up', () => {
  const settings = { max: 1_000, targetLatencyMs: 200 }
  it('holds while the task catches up, cuts while it does not', () => {
    expect(adaptCapacity(1_000, 600_000, settings, true)).toBe(1_000)
    expect(adaptCapacity(800, 5_000, settings, true)).toBe(800)
    expect(adaptCapacity(1_000, 5_000, settings, false)).toBe(700)
    expect(adaptCapacity(1_000, 5_000, settings)).toBe(700)
  })

  const view = () =>
    new Overload({ ...settings, sketchSize: 8, halfLifeMs: 1_000, largeGroupMembers: 100 })

  it('holds through a backlog 10 minutes deep worked through at 10x, from the first second', () => {
    const overload = view()
    // Each wall-clock second takes 10 s of records sent 10 minutes before: the lag falls 9 s a second.
    for (let wall = 0; wall < 30_000; wall += 100) {
      const sentAt = -600_000 + wall * 10
      overload.advance(sentAt, wall)
      overload.offer('c', false, wall - sentAt)
    }
    expect(overload.capacity()).toBe(1_000)
  })

  it('cuts while the lag grows or stays above the target', () => {
    const overload = view()
    // An overload: the lag grows 50 ms every 100 ms, from above the target.
    for (let wall = 0; wall < 5_100; wall += 100) {
      overload.advance(wall, wall)
      overload.offer('c', false, 300 + wall / 2)
    }
    expect(overload.capacity()).toBeCloseTo(1_000 * 0.7 ** 5, 5)
  })
})

describe('overload view across a restart', () => {
  const settings = {
    max: 10,
    targetLatencyMs: 0,
    sketchSize: 4,
    halfLifeMs: 1_000,
    largeGroupMembers: 100,
  }
  /** A flood from a large group and a few small conversations, 40/s in event time for 3 s. */
  const offers = Array.from({ length: 120 }, (_, i) => ({
    at: T0 + i * 25,
    key: i % 4 === 0 ? `small-${i % 3}` : 'flood',
    large: i % 4 !== 0,
  }))
  const decide = (view: Overload, o: (typeof offers)[number]) => {
    view.advance(o.at)
    view.offer(o.key, o.large, 0)
    if (view.overloaded() && view.throttles(o.key, o.large)) return false
    view.spend(1)
    return true
  }

  it('goes on from its saved state as an unbroken run would', () => {
    const unbroken = new Overload(settings)
    const expected = offers.map((o) => decide(unbroken, o))
    expect(expected.filter((ok) => !ok).length).toBeGreaterThan(50)
    let view = new Overload(settings)
    const got = offers.map((o, i) => {
      if (i % 37 === 36) {
        // A restart: a new view from what was saved (through JSON, as the store keeps it).
        const saved = JSON.parse(JSON.stringify(view.state()))
        view = new Overload(settings)
        view.restore(saved)
      }
      return decide(view, o)
    })
    expect(got).toEqual(expected)
    // Started afresh instead, it lets a new burst through: what saving it prevents.
    const fresh = new Overload(settings)
    const afterFresh = offers.slice(60).map((o) => decide(fresh, o))
    expect(afterFresh).not.toEqual(expected.slice(60))
  })
})
