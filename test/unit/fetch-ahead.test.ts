import { describe, expect, it } from 'vitest'
import {
  batchBytes,
  FetchAhead,
  setShortWaitWhilePaused,
} from '../../topologies/runtime/internal/fetch-ahead.js'

const batch = (partition: number, ...sizes: number[]) => ({
  topic: 't',
  partition,
  messages: sizes.map((n) => ({ key: null, value: Buffer.alloc(n) })),
})

/** A partition's pause and resume, as kafkajs' eachBatch payload gives them. */
function partitionState() {
  const state = { paused: false, pauses: 0 }
  const pause = () => {
    state.paused = true
    state.pauses++
    return () => {
      state.paused = false
    }
  }
  return { state, pause }
}

describe('FetchAhead', () => {
  it('fetches on while under its bound, pauses past it, resumes once half of it is through', () => {
    const ahead = new FetchAhead(1_000)
    const { state, pause } = partitionState()
    const first = ahead.hold(batch(0, 399), pause)
    const second = ahead.hold(batch(0, 399), pause)
    expect(state.paused).toBe(false)
    const third = ahead.hold(batch(0, 399), pause)
    expect(state.paused).toBe(true)
    expect(ahead.bytes('t', 0)).toBe(1_200)
    first.release()
    expect(state.paused).toBe(true) // 800 held: more than half the bound
    second.release()
    expect(state.paused).toBe(false)
    expect(ahead.bytes('t', 0)).toBe(400)
    third.release()
    third.release() // once only
    expect(ahead.bytes('t', 0)).toBe(0)
    expect(state.pauses).toBe(1)
  })

  it('with no bound pauses from each batch until the task is through it', () => {
    const ahead = new FetchAhead(0)
    const { state, pause } = partitionState()
    const one = ahead.hold(batch(0, 0), pause) // an empty record counts too
    expect(state.paused).toBe(true)
    one.release()
    expect(state.paused).toBe(false)
  })

  it('asks for a short fetch wait while a partition is paused for its task', () => {
    const ahead = new FetchAhead(0)
    const p0 = partitionState()
    expect(ahead.wantsShortFetchWait()).toBe(false)
    const held = ahead.hold(batch(0, 10), p0.pause, false)
    expect(ahead.wantsShortFetchWait()).toBe(true)
    held.release() // resumed: fetched with the next round, whatever the wait
    expect(ahead.wantsShortFetchWait()).toBe(false)
    // Fetching ahead a partition is not paused while under its bound: nothing waits on a resume.
    const fetching = new FetchAhead(1_000)
    fetching.hold(batch(0, 10), p0.pause, true)
    expect(fetching.wantsShortFetchWait()).toBe(false)
  })

  it('with the short wait while paused off (an A/B), asks only while records wait behind', () => {
    setShortWaitWhilePaused(false)
    try {
      const ahead = new FetchAhead(0)
      const p0 = partitionState()
      const p1 = partitionState()
      const caughtUp = ahead.hold(batch(0, 10), p0.pause, false)
      expect(ahead.wantsShortFetchWait()).toBe(false)
      const behind = ahead.hold(batch(1, 10), p1.pause, true)
      expect(ahead.wantsShortFetchWait()).toBe(true)
      behind.release()
      expect(ahead.wantsShortFetchWait()).toBe(false)
      caughtUp.release()
    } finally {
      setShortWaitWhilePaused(true)
    }
  })

  it('counts each partition on its own', () => {
    const ahead = new FetchAhead(500)
    const p0 = partitionState()
    const p1 = partitionState()
    ahead.hold(batch(0, 600), p0.pause)
    const other = ahead.hold(batch(1, 100), p1.pause)
    expect(p0.state.paused).toBe(true)
    expect(p1.state.paused).toBe(false)
    expect(other.bytes).toBe(batchBytes(batch(1, 100)))
    expect(other.bytes).toBe(101)
  })
})
