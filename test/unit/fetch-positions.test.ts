import { describe, expect, it } from 'vitest'
import { FetchPositions } from '../../topologies/runtime/internal/fetch-positions.js'

describe('FetchPositions (the runner fetching ahead of a task)', () => {
  it('takes batches fetched one after another while nothing is lost', () => {
    const committed = new Map([['in', 100]])
    const positions = new FetchPositions(committed)
    expect(positions.handOver('in', 100)).toBe(true)
    // Fetched while the first batch commits: past the last commit, and that is fine.
    expect(positions.handOver('in', 111)).toBe(true)
    expect(positions.handOver('in', 125)).toBe(true)
    expect(positions.epoch('in')).toBe(0)
    expect(positions.resumeFrom('in')).toBe(100)
  })

  it('after a batch left part way, leaves the later ones and refuses any fetched past the last commit until one starts there', () => {
    const committed = new Map([['in', 100]])
    const positions = new FetchPositions(committed)
    positions.handOver('in', 100)
    positions.handOver('in', 111)
    const held = positions.epoch('in')
    positions.leftPartWay('in', held)
    // Batches handed over before it (same epoch) are not taken any more.
    expect(positions.epoch('in')).not.toBe(held)
    // A second batch of that epoch left too does not move the epoch again.
    const now = positions.epoch('in')
    positions.leftPartWay('in', held)
    expect(positions.epoch('in')).toBe(now)
    // Fetched before the seek back took effect: it would skip offsets 100-110.
    expect(positions.handOver('in', 121)).toBe(false)
    expect(positions.resumeFrom('in')).toBe(100)
    // The seek took effect: read again from the last commit, or before it (the task skips
    // what it committed), and from then on as before.
    expect(positions.handOver('in', 100)).toBe(true)
    expect(positions.handOver('in', 121)).toBe(true)
  })

  it('before any commit, reads again from where the topic was first fetched', () => {
    const committed = new Map<string, number>()
    const positions = new FetchPositions(committed)
    expect(positions.resumeFrom('in')).toBe(0)
    positions.handOver('in', 42)
    positions.handOver('in', 50)
    expect(positions.resumeFrom('in')).toBe(42)
    positions.leftPartWay('in', 0)
    expect(positions.handOver('in', 50)).toBe(false)
    expect(positions.handOver('in', 42)).toBe(true)
    // Once committed, the commit is where it goes on from.
    committed.set('in', 60)
    expect(positions.resumeFrom('in')).toBe(60)
  })

  it('keeps topics apart', () => {
    const positions = new FetchPositions(
      new Map([
        ['a', 10],
        ['b', 20],
      ]),
    )
    positions.leftPartWay('a', 0)
    expect(positions.handOver('a', 15)).toBe(false)
    expect(positions.handOver('b', 25)).toBe(true)
    expect(positions.epoch('b')).toBe(0)
  })
})
