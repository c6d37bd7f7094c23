import { describe, expect, it } from 'vitest'
import { FilteredStretches } from '../../topologies/runtime/internal/filtered-stretches.js'

describe('FilteredStretches', () => {
  it('passes a position at the start of a stretch or inside it, to its end', () => {
    const f = new FilteredStretches()
    f.add('t', 10, 12)
    expect(f.passFrom('t', 10)).toBe(12)
    expect(f.passFrom('t', 11)).toBe(12)
    expect(f.passFrom('t', 9)).toBe(9)
    expect(f.passFrom('t', 12)).toBe(12)
    expect(f.passFrom('other', 10)).toBe(10)
  })

  it('never passes the records between two stretches', () => {
    // A marker at 636, records 637-800, a marker at 801: a position at 636 passes the first only.
    const f = new FilteredStretches()
    f.add('t', 801, 802)
    f.add('t', 636, 637)
    expect(f.passFrom('t', 636)).toBe(637)
    expect(f.passFrom('t', 801)).toBe(802)
  })

  it('chains stretches that touch or overlap, in whatever order they came', () => {
    const f = new FilteredStretches()
    f.add('t', 20, 25)
    f.add('t', 12, 20)
    f.add('t', 10, 14)
    expect(f.passFrom('t', 10)).toBe(25)
  })

  it('forgets the stretches behind a committed position', () => {
    const f = new FilteredStretches()
    f.add('t', 10, 12)
    f.add('t', 30, 31)
    f.committed('t', 12)
    expect([...f.topics()]).toEqual(['t'])
    expect(f.passFrom('t', 10)).toBe(10)
    expect(f.passFrom('t', 30)).toBe(31)
    f.committed('t', 31)
    expect([...f.topics()]).toEqual([])
  })

  it('ignores an empty stretch', () => {
    const f = new FilteredStretches()
    f.add('t', 5, 5)
    expect([...f.topics()]).toEqual([])
  })
})
