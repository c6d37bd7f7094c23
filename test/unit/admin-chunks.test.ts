import { describe, expect, it } from 'vitest'
import { chunked } from '../../connectors/http/admin-routes.js'

describe('conversation events for huge groups', () => {
  it('split a 100,000-member creation into a creation and additions of 10,000 each', () => {
    const members = Array.from({ length: 100_000 }, (_, i) => `u${i}`)
    const events = chunked({
      kind: 'ConversationCreated',
      conversationType: 'GROUP',
      members,
      admins: ['u0'],
      unit: '',
    })
    expect(events).toHaveLength(10)
    expect(events[0]).toMatchObject({ kind: 'ConversationCreated', admins: ['u0'] })
    expect(events.slice(1).every((e) => e.kind === 'MembersAdded')).toBe(true)
    const all = events.flatMap((e) =>
      e.kind === 'ConversationCreated' ? e.members : e.kind === 'MembersAdded' ? e.userIds : [],
    )
    expect(all).toEqual(members)
  })

  it('leave small changes as they are', () => {
    const change = { kind: 'MembersRemoved' as const, userIds: ['a', 'b'] }
    expect(chunked(change)).toEqual([change])
    expect(chunked({ kind: 'MuteChanged', muted: true })).toEqual([
      { kind: 'MuteChanged', muted: true },
    ])
  })
})
