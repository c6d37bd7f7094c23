// Which stores a task rebuilds by a shadow run (rebuild-plan.ts): only a store never opened,
// beside one that was; never in a new app id, never a store declared with a fold.

import { describe, expect, it } from 'vitest'
import {
  type ChangelogSeen,
  isRebuild,
  rebuildProgress,
  storesToRebuild,
} from '../../topologies/runtime/internal/rebuild-plan.js'

const seen = (store: string, over: Partial<ChangelogSeen> = {}): ChangelogSeen => ({
  store,
  declared: false,
  fromCheckpoint: false,
  committed: false,
  ...over,
})

describe('storesToRebuild', () => {
  it('rebuilds a store never opened beside one that ran', () => {
    expect(storesToRebuild([seen('old', { committed: true }), seen('new')])).toEqual(['new'])
    expect(storesToRebuild([seen('old', { fromCheckpoint: true }), seen('new')])).toEqual(['new'])
  })

  it('rebuilds nothing where no store ran: a new app id, a replay --into one', () => {
    expect(storesToRebuild([seen('a'), seen('b')])).toEqual([])
    expect(storesToRebuild([seen('only')])).toEqual([])
  })

  it('leaves a store that ran (even empty: it has markers) and one with a fold', () => {
    const stores = [
      seen('old', { committed: true }),
      seen('empty-but-opened', { committed: true }),
      seen('folded', { declared: true }),
    ]
    expect(storesToRebuild(stores)).toEqual([])
  })

  it('tells its progress records from a fold backfill', () => {
    expect(isRebuild(rebuildProgress(false))).toBe(true)
    expect(isRebuild({ topic: 'in', next: 0, target: 5, done: false })).toBe(false)
    expect(isRebuild(undefined)).toBe(false)
  })
})
