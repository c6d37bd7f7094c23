import { describe, expect, it } from 'vitest'
import {
  startPosition,
  TASK_COMMIT_METADATA,
} from '../../topologies/runtime/internal/start-position.js'

const ours = (offset: number) => ({ offset, metadata: TASK_COMMIT_METADATA })

describe('startPosition', () => {
  it("follows the group when it stands at or past the task's own position", () => {
    expect(startPosition(ours(500), 500)).toEqual({ from: 'group', offset: 500 })
    expect(startPosition(ours(600), 500)).toEqual({ from: 'group', offset: 600 })
  })

  it('follows the group when the task knows no position of its own', () => {
    expect(startPosition(ours(100), undefined)).toEqual({ from: 'group', offset: 100 })
    expect(startPosition(undefined, undefined)).toEqual({ from: 'group', offset: undefined })
  })

  it("goes on from its own when the group answers an older commit of a task's", () => {
    expect(startPosition(ours(100), 500)).toEqual({ from: 'own', offset: 500, groupOffset: 100 })
  })

  it('goes on from its own when the group answers no commit at all', () => {
    expect(startPosition(undefined, 500)).toEqual({
      from: 'own',
      offset: 500,
      groupOffset: undefined,
    })
  })

  it('follows a rewind someone meant: a commit without the task’s metadata', () => {
    expect(startPosition({ offset: 100, metadata: null }, 500)).toEqual({
      from: 'group',
      offset: 100,
    })
    expect(startPosition({ offset: 100, metadata: '' }, 500)).toEqual({
      from: 'group',
      offset: 100,
    })
  })
})
