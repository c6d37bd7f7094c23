// The co-partitioned assignor: tasks (partition numbers) to members, balanced and sticky, and
// every source topic's partition p to the owner of task p.

import { AssignerProtocol, type Cluster, type GroupDescription } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  ASSIGNOR_NAME,
  assignTasks,
  coPartitionedAssigner,
  decodeMemberInfo,
  taskOwners,
} from '../../topologies/runtime/internal/assignor.js'

const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const fresh = (...ids: string[]) => ids.map((memberId) => ({ memberId, previous: [] }))

/** Every task exactly once, and no member more than one task ahead of another. */
function expectBalanced(result: Map<string, number[]>, tasks: number) {
  const all = [...result.values()].flat().sort((a, b) => a - b)
  expect(all).toEqual(range(tasks))
  const sizes = [...result.values()].map((t) => t.length)
  expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
}

describe('assignTasks', () => {
  it('spreads a fresh group’s tasks evenly, members in id order', () => {
    const result = assignTasks(fresh('c', 'a', 'b'), range(7))
    expectBalanced(result, 7)
    expect(Object.fromEntries(result)).toEqual({ a: [0, 3, 6], b: [1, 4], c: [2, 5] })
  })

  it('gives every member an entry, even with more members than tasks', () => {
    const result = assignTasks(fresh('a', 'b', 'c'), range(2))
    expect(Object.fromEntries(result)).toEqual({ a: [0], b: [1], c: [] })
  })

  it('keeps previous tasks where balance allows when a member joins', () => {
    const result = assignTasks(
      [
        { memberId: 'a', previous: [0, 1, 2] },
        { memberId: 'b', previous: [3, 4, 5] },
        { memberId: 'new', previous: [] },
      ],
      range(6),
    )
    expectBalanced(result, 6)
    expect(result.get('a')).toEqual([0, 1])
    expect(result.get('b')).toEqual([3, 4])
    expect(result.get('new')).toEqual([2, 5])
  })

  it('moves only the leaving member’s tasks when a member leaves', () => {
    const result = assignTasks(
      [
        { memberId: 'a', previous: [0, 3] },
        { memberId: 'c', previous: [2, 5] },
      ],
      range(6),
    )
    expectBalanced(result, 6)
    expect(result.get('a')).toEqual(expect.arrayContaining([0, 3]))
    expect(result.get('c')).toEqual(expect.arrayContaining([2, 5]))
  })

  it('gives the larger share to the member that held more', () => {
    const result = assignTasks(
      [
        { memberId: 'a', previous: [0] },
        { memberId: 'b', previous: [1, 2, 3, 4] },
      ],
      range(5),
    )
    expect(result.get('b')).toEqual([1, 2, 3])
    expect(result.get('a')).toEqual([0, 4])
  })

  it('gives a task two members claim to one of them, and ignores tasks that no longer exist', () => {
    const result = assignTasks(
      [
        { memberId: 'a', previous: [0, 1, 9] },
        { memberId: 'b', previous: [1] },
      ],
      range(2),
    )
    expect(Object.fromEntries(result)).toEqual({ a: [0], b: [1] })
  })
})

describe('coPartitionedAssigner', () => {
  const cluster = {
    findTopicPartitionMetadata: (topic: string) =>
      range(topic === 'wide' ? 3 : 2).map((partitionId) => ({ partitionId })),
  } as unknown as Cluster
  const member = (memberId: string, url: string, tasks: number[] = []) => {
    const assigner = coPartitionedAssigner({ advertisedUrl: url, ownedTasks: () => tasks })({
      cluster,
      groupId: 'g',
      logger: undefined as never,
    })
    return { memberId, memberMetadata: assigner.protocol({ topics: ['a', 'b'] }).metadata }
  }

  it('gives partition p of every topic to the owner of task p, and the group learns who that is', async () => {
    const members = [
      member('m1', 'http://one:1'),
      member('m2', 'http://two:2'),
      member('m3', 'http://three:3'),
    ]
    const assigner = coPartitionedAssigner({ advertisedUrl: '', ownedTasks: () => [] })({
      cluster,
      groupId: 'g',
      logger: undefined as never,
    })
    const out = await assigner.assign({ members, topics: ['a', 'b'] })
    const decoded = Object.fromEntries(
      out.map((o) => [
        o.memberId,
        AssignerProtocol.MemberAssignment.decode(o.memberAssignment)?.assignment,
      ]),
    )
    // Round-robin over [a0, a1, b0, b1] would split task 0 between m1 and m3.
    expect(decoded).toEqual({ m1: { a: [0], b: [0] }, m2: { a: [1], b: [1] }, m3: {} })

    const group: GroupDescription = {
      groupId: 'g',
      protocol: ASSIGNOR_NAME,
      protocolType: 'consumer',
      state: 'Stable',
      members: members.map((m, i) => ({
        ...m,
        clientId: 'c',
        clientHost: 'h',
        memberAssignment: (out[i] as { memberAssignment: Buffer }).memberAssignment,
      })),
    }
    expect(taskOwners(group)).toEqual(
      new Map([
        [0, { memberId: 'm1', url: 'http://one:1' }],
        [1, { memberId: 'm2', url: 'http://two:2' }],
      ]),
    )
    expect(taskOwners({ ...group, state: 'CompletingRebalance' })).toBeUndefined()
  })

  it('keeps members on the tasks they tell the leader they hold', async () => {
    const assigner = coPartitionedAssigner({ advertisedUrl: '', ownedTasks: () => [] })({
      cluster,
      groupId: 'g',
      logger: undefined as never,
    })
    const out = await assigner.assign({
      members: [member('m1', '', [1]), member('m2', '', [0])],
      topics: ['a', 'b'],
    })
    const m1 = out.find((o) => o.memberId === 'm1') as { memberAssignment: Buffer }
    expect(AssignerProtocol.MemberAssignment.decode(m1.memberAssignment)?.assignment).toEqual({
      a: [1],
      b: [1],
    })
  })

  it('reads members that sent no info (another assignor’s subscription) as having none', () => {
    expect(decodeMemberInfo(Buffer.alloc(0))).toEqual({ url: '', tasks: [] })
    expect(decodeMemberInfo(Buffer.from('not json'))).toEqual({ url: '', tasks: [] })
  })
})
