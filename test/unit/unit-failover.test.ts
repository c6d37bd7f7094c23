// imflow unit failover's check: a unit is taken over only once none of its consumer groups
// has members; the ones that still have are named with their hosts.

import type { GroupDescription } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { liveGroups } from '../../ops/app/unit-failover.js'

const group = (groupId: string, hosts: string[]): GroupDescription =>
  ({
    groupId,
    state: hosts.length ? 'Stable' : 'Empty',
    protocol: '',
    protocolType: 'consumer',
    members: hosts.map((clientHost, i) => ({
      memberId: `m-${i}`,
      clientId: 'imflow',
      clientHost,
      memberMetadata: Buffer.alloc(0),
      memberAssignment: Buffer.alloc(0),
    })),
  }) as GroupDescription

describe('unit failover: is the unit gone?', () => {
  it('names the groups that still have members, each host once', () => {
    expect(liveGroups([group('a.imflow-receiver', []), group('a.imflow-inbox', [])])).toEqual([])
    expect(
      liveGroups([
        group('a.imflow-receiver', ['/10.0.0.1', '/10.0.0.1', '/10.0.0.2']),
        group('a.imflow-inbox', []),
      ]),
    ).toEqual([{ group: 'a.imflow-receiver', hosts: ['/10.0.0.1', '/10.0.0.2'] }])
  })
})
