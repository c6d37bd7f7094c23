import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compareMsgIds,
  composeMsgId,
  createMsgIdGenerator,
  MAX_UNIT,
  MAX_WORKER,
  MSG_ID_EPOCH_MS,
  parseMsgId,
} from '../../schemas/msg-id.js'

const T0 = Date.UTC(2026, 10, 23, 12)

/** A clock the test moves by hand, and a persisted high-water mark that survives "restarts". */
function harness() {
  let now = T0
  let persisted: number | undefined
  const make = (worker = 7) =>
    createMsgIdGenerator({
      unit: 3,
      worker,
      floorMs: persisted,
      reserve: (until) => {
        persisted = until
      },
      clock: () => now,
    })
  return {
    make,
    set: (ms: number) => {
      now = ms
    },
    persisted: () => persisted,
  }
}

function strictlyIncreasing(ids: string[]): boolean {
  return ids.every((id, i) => i === 0 || compareMsgIds(ids[i - 1] as string, id) < 0)
}

describe('message ids', () => {
  it('round-trip their parts and are decimal 64-bit strings', () => {
    const parts = { timeMs: T0 + 123, unit: MAX_UNIT, worker: MAX_WORKER, sequence: 255 }
    const id = composeMsgId(parts)
    expect(id).toMatch(/^\d+$/)
    expect(BigInt(id) < 2n ** 63n).toBe(true)
    expect(parseMsgId(id)).toEqual(parts)
  })

  it('strictly increase within a worker, also when many arrive in one millisecond', () => {
    const h = harness()
    const gen = h.make()
    const ids = Array.from({ length: 2_000 }, () => gen.next())
    expect(strictlyIncreasing(ids)).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
    // 2,000 ids at one clock reading borrowed the milliseconds after it, 256 per millisecond.
    expect(parseMsgId(ids.at(-1) as string).timeMs).toBe(T0 + Math.floor(1_999 / 256))
  })

  it('never repeat after the clock steps back', () => {
    const h = harness()
    const gen = h.make()
    const before = Array.from({ length: 100 }, () => gen.next())
    h.set(T0 - 60_000) // NTP steps the clock back a minute
    const after = Array.from({ length: 100 }, () => gen.next())
    expect(strictlyIncreasing([...before, ...after])).toBe(true)
  })

  it('never repeat after a restart, even with the clock behind the last run', () => {
    const h = harness()
    const first = h.make()
    const before = Array.from({ length: 500 }, () => first.next())
    expect(h.persisted()).toBeGreaterThan(parseMsgId(before.at(-1) as string).timeMs)
    h.set(T0 - 5_000) // restarted on a machine whose clock is behind
    const second = h.make()
    const after = Array.from({ length: 500 }, () => second.next())
    expect(compareMsgIds(before.at(-1) as string, after[0] as string)).toBeLessThan(0)
    expect(strictlyIncreasing(after)).toBe(true)
  })

  it('resumed at the last position, issue what an unbroken run issues (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -300, max: 300 }), { minLength: 2, maxLength: 400 }),
        fc.nat(),
        (steps, cut) => {
          const times = steps.map((_, i) => T0 + steps.slice(0, i + 1).reduce((a, b) => a + b, 0))
          const at = 1 + (cut % (times.length - 1))
          const make = (clock: () => number, resume?: { floorMs?: number; resumeAt?: number }) => {
            let floor = resume?.floorMs
            const gen = createMsgIdGenerator({
              unit: 1,
              worker: 2,
              ...resume,
              reserve: (until) => {
                floor = until
              },
              clock,
            })
            return { gen, floor: () => floor }
          }
          let now = T0
          const unbroken = make(() => now)
          const expected = times.map((t) => {
            now = t
            return unbroken.gen.next()
          })
          // The same times, with a restart after `at` ids: the position and floor persisted.
          const first = make(() => now)
          const before = times.slice(0, at).map((t) => {
            now = t
            return first.gen.next()
          })
          const floorMs = first.floor()
          const second = make(() => now, {
            ...(floorMs === undefined ? {} : { floorMs }),
            resumeAt: first.gen.position(),
          })
          const after = times.slice(at).map((t) => {
            now = t
            return second.gen.next()
          })
          expect([...before, ...after]).toEqual(expected)
        },
      ),
    )
  })

  it('persist the high-water mark rarely: once per reserve step, not per id', () => {
    let reservations = 0
    let now = T0
    const gen = createMsgIdGenerator({
      unit: 0,
      worker: 0,
      reserve: () => reservations++,
      clock: () => now,
    })
    for (let i = 0; i < 10_000; i++) {
      now = T0 + Math.floor(i / 10) // 10 ids a millisecond for one second
      gen.next()
    }
    expect(reservations).toBe(1)
  })

  it('differ between workers at the same instant', () => {
    const a = harness().make(1).next()
    const b = harness().make(2).next()
    expect(a).not.toBe(b)
    expect(parseMsgId(a).timeMs).toBe(parseMsgId(b).timeMs)
  })

  it('strictly increase for any sequence of clock readings (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -5_000, max: 5_000 }), { minLength: 1, maxLength: 300 }),
        (steps) => {
          let now = T0
          const gen = createMsgIdGenerator({
            unit: 1,
            worker: 1,
            reserve: () => {},
            clock: () => now,
          })
          const ids = steps.map((step) => {
            now += step
            return gen.next()
          })
          return strictlyIncreasing(ids)
        },
      ),
    )
  })

  it('refuse out-of-range units and workers, and times before the epoch', () => {
    expect(() =>
      createMsgIdGenerator({ unit: MAX_UNIT + 1, worker: 0, reserve: () => {} }),
    ).toThrow(RangeError)
    expect(() => createMsgIdGenerator({ unit: 0, worker: -1, reserve: () => {} })).toThrow(
      RangeError,
    )
    const gen = createMsgIdGenerator({
      unit: 0,
      worker: 0,
      reserve: () => {},
      clock: () => MSG_ID_EPOCH_MS - 1,
    })
    expect(() => gen.next()).toThrow(/outside the id's range/)
  })
})
