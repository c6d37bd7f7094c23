// Peak shaving's pure parts: token buckets, the heavy-hitter sketch, fair shares, the
// adaptive capacity and the limits document's validation.

import { describe, expect, it } from 'vitest'
import { adaptCapacity } from '../../topologies/shaping/capacity.js'
import { DrainPace, drainMargin } from '../../topologies/shaping/drain-pace.js'
import { overShare, waterLevel } from '../../topologies/shaping/fair-share.js'
import { type Limits, limitOf, limitsProblems } from '../../topologies/shaping/limits.js'
import { Overload } from '../../topologies/shaping/overload.js'
import { SpaceSaving } from '../../topologies/shaping/space-saving.js'
import { refill, take } from '../../topologies/shaping/token-bucket.js'

const limits = (over: Partial<Limits> = {}): Limits => ({
  capacity: 100,
  lowDeadlineMs: 3_600_000,
  conversation: { default: null, overrides: {} },
  user: { default: { rate: 5, burst: 10 }, overrides: { bot: { rate: 100, burst: 100 } } },
  clientType: { default: null, overrides: {} },
  application: { default: null, overrides: {} },
  ...over,
})

describe('token bucket', () => {
  it('lets a burst through, then refuses with the time until the next token', () => {
    const limit = { rate: 2, burst: 3 }
    let bucket: ReturnType<typeof take>['bucket'] | undefined
    for (let i = 0; i < 3; i++) {
      const t = take(bucket, limit, 1_000)
      expect(t.ok).toBe(true)
      bucket = t.bucket
    }
    const refused = take(bucket, limit, 1_000)
    expect(refused).toMatchObject({ ok: false, retryAfterMs: 500 })
    expect(take(bucket, limit, 1_250)).toMatchObject({ ok: false, retryAfterMs: 250 })
    expect(take(bucket, limit, 1_500).ok).toBe(true)
  })

  it('refills up to the burst only, and never from a clock going back', () => {
    const limit = { rate: 10, burst: 5 }
    expect(refill({ tokens: 0, at: 0 }, limit, 60_000).tokens).toBe(5)
    expect(refill({ tokens: 2, at: 5_000 }, limit, 1_000)).toEqual({ tokens: 2, at: 1_000 })
  })
})

describe('space-saving sketch', () => {
  it('keeps every key heavier than total/size, within bounded memory', () => {
    const sketch = new SpaceSaving(10)
    for (let i = 0; i < 5_000; i++) {
      sketch.add(`cold-${i}`)
      if (i % 2 === 0) sketch.add('hot')
      if (i % 5 === 0) sketch.add('warm')
    }
    const top = sketch.top()
    expect(top.length).toBe(10)
    expect(top[0]?.key).toBe('hot')
    expect(top[1]?.key).toBe('warm')
    // Never below the true count.
    expect(sketch.estimate('hot')).toBeGreaterThanOrEqual(2_500)
    expect(sketch.total()).toBe(5_000 + 2_500 + 1_000)
  })

  it('forgets under decay, so it follows the current load', () => {
    const sketch = new SpaceSaving(4)
    for (let i = 0; i < 100; i++) sketch.add('old')
    sketch.decay(0.5 ** 20)
    for (let i = 0; i < 10; i++) sketch.add('new')
    expect(sketch.top()[0]?.key).toBe('new')
    expect(sketch.tracked('old')).toBe(false)
  })
})

describe('fair share (water-filling)', () => {
  it('cuts the biggest loads to a common level', () => {
    expect(waterLevel(100, [10, 20, 500])).toBe(70)
    expect(waterLevel(100, [300, 300])).toBe(50)
    expect(waterLevel(100, [10, 20])).toBe(Number.POSITIVE_INFINITY)
    expect(waterLevel(100, [50], 120)).toBe(0)
  })

  it('throttles the large flood, never the 1:1 chats, while a large group is over its share', () => {
    const view = {
      capacity: 100,
      totalRate: 1_000 + 30,
      hot: [
        { key: 'flood', rate: 1_000, large: true },
        { key: 'dm-1', rate: 5, large: false },
      ],
    }
    expect(overShare(view, 'flood', 1_000, true)).toBe(true)
    expect(overShare(view, 'dm-1', 5, false)).toBe(false)
    expect(overShare(view, 'dm-untracked', 1, false)).toBe(false)
  })

  it('throttles the hottest small conversations when no large group is over its share', () => {
    const view = {
      capacity: 100,
      totalRate: 150,
      hot: [
        { key: 'busy', rate: 120, large: false },
        { key: 'calm', rate: 10, large: false },
      ],
    }
    expect(overShare(view, 'busy', 120, false)).toBe(true)
    expect(overShare(view, 'calm', 10, false)).toBe(false)
  })
})

describe('adaptive capacity', () => {
  const settings = { max: 1_000, targetLatencyMs: 200 }
  it('backs off multiplicatively above the target and creeps up well below it', () => {
    expect(adaptCapacity(1_000, 500, settings)).toBe(700)
    expect(adaptCapacity(700, 50, settings)).toBe(750)
    expect(adaptCapacity(700, 150, settings)).toBe(700)
    expect(adaptCapacity(1_000, 10, settings)).toBe(1_000)
    let c = 1_000
    for (let i = 0; i < 50; i++) c = adaptCapacity(c, 10_000, settings)
    expect(c).toBe(50)
  })

  it('follows the ingest latency a task observes, inside its overload view', () => {
    const settings = {
      max: 100,
      targetLatencyMs: 200,
      sketchSize: 8,
      halfLifeMs: 1_000,
      largeGroupMembers: 500,
    }
    const overload = new Overload(settings, 0)
    for (let t = 1; t <= 5; t++) {
      overload.offer('c', false, 2_000) // messages waited 2 s on im.ingest
      overload.advance(t * 1_000)
    }
    expect(overload.capacity()).toBeCloseTo(100 * 0.7 ** 5, 5)
    for (let t = 6; t <= 30; t++) {
      overload.offer('c', false, 10)
      overload.advance(t * 1_000)
    }
    expect(overload.capacity()).toBe(100)
  })

  it('is the budget when no target is set', () => {
    expect(adaptCapacity(300, 10_000, { max: 1_000, targetLatencyMs: 0 })).toBe(1_000)
  })
})

describe('limits document', () => {
  it('finds each key its own limit, else the default', () => {
    expect(limitOf(limits(), 'user', 'bot')).toEqual({ rate: 100, burst: 100 })
    expect(limitOf(limits(), 'user', 'ann')).toEqual({ rate: 5, burst: 10 })
    expect(limitOf(limits(), 'conversation', 'c')).toBeNull()
  })

  it('names every problem of a bad document', () => {
    expect(limitsProblems(limits())).toEqual([])
    const bad = {
      ...limits(),
      capacity: 0,
      user: { default: { rate: -1, burst: 0 }, overrides: { x: { rate: 1 } } },
      application: undefined,
    }
    expect(limitsProblems(bad)).toEqual([
      'capacity must be above 0',
      'user.default.rate must be above 0',
      'user.default.burst must be at least 1',
      'user.overrides.x.burst must be at least 1',
      'application must be {default, overrides}',
    ])
  })

  it('drains a message ahead of its deadline by a margin that fits short and long deadlines', () => {
    expect(drainMargin(3_000)).toBe(600)
    expect(drainMargin(3_600_000)).toBe(5_000)
    expect(drainMargin(500)).toBe(200)
  })

  it('widens the margin to twice the longest recent gap between drains, up to the deadline', () => {
    const pace = new DrainPace()
    for (let t = 0; t <= 1_000; t += 100) pace.observe(t)
    // Drains every 100 ms: the fixed share (2 s of 10 s) is the larger.
    expect(pace.margin(10_000)).toBe(2_000)
    // A busy task drained 1.5 s apart (a flood's transactions, a loaded machine).
    pace.observe(2_500)
    expect(pace.worstGap()).toBe(1_500)
    expect(pace.margin(10_000)).toBe(3_100)
    // Up to the whole deadline: drains that far apart hand LOW off at the first one after
    // its acceptance.
    expect(pace.margin(2_000)).toBe(2_000)
    // Remembered for one to two windows of 30 s, then forgotten once drains are quick again.
    for (let t = 2_600; t <= 70_000; t += 100) pace.observe(t)
    expect(pace.worstGap()).toBe(100)
    expect(pace.margin(10_000)).toBe(2_000)
  })
})
