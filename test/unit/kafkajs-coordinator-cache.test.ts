// The coordinator cache put on kafkajs' Cluster (ops/kafkajs-coordinator-cache.ts): one
// FindCoordinator per transactional id while the coordinator answers; any failed call to it,
// or a lost connection, makes the next call look it up again. A transactional producer's group
// coordinator (for TxnOffsetCommit) is kept the same way; consumers' and admins' are looked up
// as kafkajs does, every time.

import { describe, expect, it } from 'vitest'
import { installCoordinatorCache } from '../../ops/kafkajs-coordinator-cache.js'

class FakeBroker {
  connected = true
  failNext = false
  constructor(readonly nodeId: number) {}
  isConnected() {
    return this.connected
  }
  async endTxn(): Promise<string> {
    if (this.failNext) {
      this.failNext = false
      throw Object.assign(new Error('not the coordinator'), { type: 'NOT_COORDINATOR' })
    }
    return `ended on ${this.nodeId}`
  }
}

/** A cluster whose lookup answers the brokers in turn and counts its calls. */
function fakeCluster() {
  const brokers = [new FakeBroker(1), new FakeBroker(2)]
  class Cluster {
    lookups = 0
    async findGroupCoordinator(_args: { groupId: string; coordinatorType?: number }) {
      return brokers[this.lookups++ % brokers.length] as FakeBroker
    }
  }
  installCoordinatorCache(Cluster.prototype as never)
  return { cluster: new Cluster(), brokers }
}

describe('installCoordinatorCache', () => {
  it('looks a transaction coordinator up once per id while it answers', async () => {
    const { cluster } = fakeCluster()
    const a = await cluster.findGroupCoordinator({ groupId: 'txn-a', coordinatorType: 1 })
    const b = await cluster.findGroupCoordinator({ groupId: 'txn-a', coordinatorType: 1 })
    expect(a).toBe(b)
    expect(a.nodeId).toBe(1)
    expect(await a.endTxn()).toBe('ended on 1')
    expect(cluster.lookups).toBe(1)
    await cluster.findGroupCoordinator({ groupId: 'txn-b', coordinatorType: 1 })
    expect(cluster.lookups).toBe(2)
  })

  it('leaves the group coordinators of consumers and admins to kafkajs: looked up on every call', async () => {
    const { cluster } = fakeCluster()
    await cluster.findGroupCoordinator({ groupId: 'g' })
    await cluster.findGroupCoordinator({ groupId: 'g', coordinatorType: 0 })
    expect(cluster.lookups).toBe(2)
  })

  it('keeps a transactional producer’s group coordinator (its TxnOffsetCommit) apart from its transaction coordinator', async () => {
    const { cluster, brokers } = fakeCluster()
    await cluster.findGroupCoordinator({ groupId: 'g' })
    expect(cluster.lookups).toBe(1)
    await cluster.findGroupCoordinator({ groupId: 'g', coordinatorType: 1 })
    const group = await cluster.findGroupCoordinator({ groupId: 'g' })
    expect(await cluster.findGroupCoordinator({ groupId: 'g', coordinatorType: 0 })).toBe(group)
    expect(cluster.lookups).toBe(3)
    // A failed call to it forgets it too.
    ;(brokers[group.nodeId - 1] as FakeBroker).failNext = true
    await expect(group.endTxn()).rejects.toMatchObject({ type: 'NOT_COORDINATOR' })
    await cluster.findGroupCoordinator({ groupId: 'g' })
    expect(cluster.lookups).toBe(4)
  })

  it('forgets a coordinator whose call failed: the retry asks again', async () => {
    const { cluster, brokers } = fakeCluster()
    const first = await cluster.findGroupCoordinator({ groupId: 'g', coordinatorType: 1 })
    ;(brokers[0] as FakeBroker).failNext = true
    await expect(first.endTxn()).rejects.toMatchObject({ type: 'NOT_COORDINATOR' })
    const next = await cluster.findGroupCoordinator({ groupId: 'g', coordinatorType: 1 })
    expect(cluster.lookups).toBe(2)
    expect(next.nodeId).toBe(2)
    expect(await next.endTxn()).toBe('ended on 2')
  })

  it('asks again when the connection to the coordinator is down', async () => {
    const { cluster, brokers } = fakeCluster()
    await cluster.findGroupCoordinator({ groupId: 'g', coordinatorType: 1 })
    ;(brokers[0] as FakeBroker).connected = false
    const next = await cluster.findGroupCoordinator({ groupId: 'g', coordinatorType: 1 })
    expect(next.nodeId).toBe(2)
    expect(cluster.lookups).toBe(2)
  })

  it('keeps each cluster’s coordinators apart (one cluster per kafkajs client)', async () => {
    const { cluster } = fakeCluster()
    const { cluster: other } = fakeCluster()
    await cluster.findGroupCoordinator({ groupId: 'g', coordinatorType: 1 })
    await other.findGroupCoordinator({ groupId: 'g', coordinatorType: 1 })
    expect([cluster.lookups, other.lookups]).toEqual([1, 1])
  })
})
