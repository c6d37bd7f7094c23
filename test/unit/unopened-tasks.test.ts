// Which assigned partitions have had no open task for longer than the grace period.

import { describe, expect, it } from 'vitest'
import { UnopenedTasks } from '../../topologies/runtime/internal/unopened-tasks.js'

describe('unopened tasks', () => {
  it('reports partitions not open past the grace, and forgets opened or revoked ones', () => {
    let now = 0
    const tasks = new UnopenedTasks(1_000, () => now)
    tasks.assigned(new Set([0, 1]), () => true)
    tasks.assigned(new Set([0, 1, 2]), (p) => p === 2)
    now = 900
    expect(tasks.problem()).toBeUndefined()
    now = 3_000
    expect(tasks.problem()).toMatch(/partitions 0, 1 assigned but not open .* for up to 3 s/)
    tasks.opened(0)
    tasks.assigned(new Set([0, 2]), () => true) // 1 revoked
    expect(tasks.problem()).toBeUndefined()
    // A task that closes (it failed) while still assigned counts from then on.
    tasks.closed(2, true)
    tasks.closed(0, false)
    now = 4_500
    expect(tasks.problem()).toMatch(/partitions 2 /)
  })

  it('reports a starting instance not ready until its first assignment opened, then gives the grace', () => {
    let now = 0
    const tasks = new UnopenedTasks(1_000, () => now)
    expect(tasks.problem()).toBeUndefined() // nothing assigned: the group member says "joining"
    tasks.assigned(new Set([3, 1]), () => false)
    now = 2_000
    expect(tasks.problem()).toBe(
      'starting: partitions 1, 3 assigned but not open (restoring or failing to open) for up to 2 s',
    )
    tasks.opened(1)
    expect(tasks.problem()).toMatch(/^starting: partitions 3 assigned/)
    tasks.opened(3)
    expect(tasks.problem()).toBeUndefined()
    // A later assignment's new task opening within the grace keeps it ready.
    tasks.assigned(new Set([1, 3, 5]), (p) => p !== 5)
    now = 2_900
    expect(tasks.problem()).toBeUndefined()
  })

  it('is ready at once with no partition assigned (more instances than partitions)', () => {
    const tasks = new UnopenedTasks(1_000, () => 0)
    tasks.assigned(new Set(), () => false)
    tasks.assigned(new Set([0]), () => false)
    expect(tasks.problem()).toBeUndefined()
  })
})
