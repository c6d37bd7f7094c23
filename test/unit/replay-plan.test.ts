import { describe, expect, it } from 'vitest'
import { type GroupPlan, phases } from '../../ops/app/commands/replay/plan-replay.js'
import { etaSeconds, progressLine, RateMeter } from '../../ops/app/commands/replay/progress.js'
import { parsePosition, planPartition } from '../../ops/app/commands/replay/reset-plan.js'
import { isImflowError } from '../../ops/errors.js'

describe('replay positions', () => {
  it('reads an offset or an ISO time, and refuses anything else with a usage error', () => {
    expect(parsePosition('42', '--from')).toEqual({ kind: 'offset', offset: 42 })
    expect(parsePosition('2026-11-26T10:00:00Z', '--from')).toEqual({
      kind: 'time',
      ms: Date.UTC(2026, 10, 26, 10),
    })
    expect(parsePosition('2026-11-26', '--to')).toEqual({
      kind: 'time',
      ms: Date.UTC(2026, 10, 26),
    })
    for (const bad of ['yesterday', '-3', '1.5', '2026-13-45T00:00:00Z', '']) {
      let caught: unknown
      try {
        parsePosition(bad, '--from')
      } catch (err) {
        caught = err
      }
      expect(isImflowError(caught, 'IMF_ERR_USAGE'), bad).toBe(true)
    }
  })

  const range = { topic: 't', partition: 1, low: 100, high: 500 }

  it('clamps offsets to what the log holds and counts the records between', () => {
    const at = (offset: number) => ({ kind: 'offset' as const, offset })
    expect(planPartition(range, at(0), undefined, () => 0)).toMatchObject({
      from: 100,
      to: 500,
      records: 400,
    })
    expect(planPartition(range, at(250), at(300), () => 0)).toMatchObject({
      from: 250,
      to: 300,
      records: 50,
    })
    expect(planPartition(range, at(900), undefined, () => 0)).toMatchObject({
      from: 500,
      to: 500,
      records: 0,
    })
    // --to before --from replays nothing rather than going backwards.
    expect(planPartition(range, at(300), at(200), () => 0)).toMatchObject({
      from: 300,
      to: 300,
      records: 0,
    })
  })

  it("takes a time position from the broker's answer", () => {
    const from = { kind: 'time' as const, ms: 1_000 }
    const to = { kind: 'time' as const, ms: 2_000 }
    const byTime = (p: { ms: number }) => (p.ms === 1_000 ? 150 : 420)
    expect(planPartition(range, from, to, byTime)).toMatchObject({
      from: 150,
      to: 420,
      records: 270,
    })
  })
})

describe('replay phases', () => {
  const reset = (topic: string, table: boolean) => ({
    topic,
    partition: 0,
    low: 0,
    high: 10,
    from: 2,
    to: 10,
    records: 8,
    table,
  })
  const plans: GroupPlan[] = [
    {
      topology: 'receiver',
      groupId: 'a-receiver',
      resets: [reset('conv', true), reset('ingest', false)],
    },
  ]

  it('into a new app id reads the tables first, with the logs held at their end, then the logs', () => {
    const [tables, logs] = phases(plans, true)
    expect(tables?.[0]?.resets).toEqual([
      reset('conv', true),
      { ...reset('ingest', false), from: 10, records: 0 },
    ])
    expect(logs?.[0]?.resets).toEqual([reset('ingest', false)])
  })

  it('into the live app id (its stores hold the tables) in one phase', () => {
    expect(phases(plans, false)).toEqual([plans])
  })
})

describe('replay progress', () => {
  const snapshot = {
    done: 250,
    total: 1000,
    rate: 50,
    draining: false,
    partitions: [
      { topic: 'im.ingest', partition: 0, lag: 500 },
      { topic: 'im.ingest', partition: 1, lag: 250 },
      { topic: 'im.actions', partition: 0, lag: 0 },
    ],
  }

  it('estimates the time left from the rate, and knows when it cannot', () => {
    expect(etaSeconds(snapshot)).toBe(15)
    expect(etaSeconds({ ...snapshot, rate: 0 })).toBeUndefined()
    expect(etaSeconds({ ...snapshot, done: 1000 })).toBe(0)
  })

  it('draws a bar on a terminal and a plain line elsewhere, the laggards first', () => {
    const bar = progressLine(snapshot, true, 120)
    expect(bar).toMatch(
      /^\[#+-+\] {2}25% 250\/1,000 records 50\/s ETA 15s lag im\.ingest\/0:500 im\.ingest\/1:250$/,
    )
    expect(bar.length).toBeLessThan(120)
    expect(progressLine(snapshot, false)).toBe(
      'replay 25% 250/1,000 records 50/s ETA 15s lag im.ingest/0:500 im.ingest/1:250',
    )
    expect(progressLine({ ...snapshot, done: 1000, draining: true }, false)).toContain('draining')
  })

  it('measures the rate over its window', () => {
    const meter = new RateMeter(10_000)
    expect(meter.sample(0, 0)).toBe(0)
    expect(meter.sample(1_000, 100)).toBe(100)
    expect(meter.sample(2_000, 300)).toBe(150)
    // Older samples leave the window: the rate follows the recent pace.
    expect(meter.sample(20_000, 300)).toBe(0)
  })
})
