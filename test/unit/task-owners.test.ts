// The owner map: learnt from the group's description, never naming this instance (its own
// task is still opening), asked again after a join or a failed read, not while rebalancing.

import { AssignerProtocol, type GroupDescription } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { ASSIGNOR_NAME, encodeMemberInfo } from '../../topologies/runtime/internal/assignor.js'
import { TaskOwners } from '../../topologies/runtime/internal/task-owners.js'

function description(
  owners: Record<string, number[]>,
  state: GroupDescription['state'] = 'Stable',
): GroupDescription {
  return {
    groupId: 'g',
    protocol: ASSIGNOR_NAME,
    protocolType: 'consumer',
    state,
    members: Object.entries(owners).map(([memberId, tasks]) => ({
      memberId,
      clientId: 'c',
      clientHost: 'h',
      memberMetadata: AssignerProtocol.MemberMetadata.encode({
        version: 1,
        topics: ['a'],
        userData: encodeMemberInfo({ url: `http://${memberId}`, tasks: [] }),
      }),
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: { a: tasks },
        userData: Buffer.alloc(0),
      }),
    })),
  }
}

describe('TaskOwners', () => {
  it('names the other member that owns a task, and not this one', async () => {
    let described = 0
    const owners = new TaskOwners(async () => {
      described++
      return description({ me: [0], other: [1] })
    })
    owners.joined('me')
    expect(await owners.owner(1)).toEqual({ memberId: 'other', url: 'http://other' })
    expect(await owners.owner(0)).toBeUndefined()
    expect(described).toBe(1)
  })

  it('asks again after a failed read, and after the next join', async () => {
    let current = description({ me: [0], other: [1] })
    let described = 0
    const owners = new TaskOwners(async () => {
      described++
      return current
    })
    owners.joined('me')
    expect((await owners.owner(1))?.memberId).toBe('other')
    current = description({ me: [0], third: [1] })
    expect((await owners.owner(1))?.memberId).toBe('other') // cached until told otherwise
    owners.forget()
    expect((await owners.owner(1))?.memberId).toBe('third')
    current = description({ me: [0, 1] })
    owners.joined('me')
    expect(await owners.owner(1)).toBeUndefined()
    expect(described).toBe(3)
  })

  it('knows no owner while the group rebalances', async () => {
    const owners = new TaskOwners(async () => description({ other: [0] }, 'PreparingRebalance'))
    owners.joined('me')
    expect(await owners.owner(0)).toBeUndefined()
  })
})
