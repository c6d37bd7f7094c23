// kafkajs' cluster (its connections and the brokers' request calls), reached through the
// client's own factory: for the group calls kafkajs has no public API for (a member removed on
// its behalf, offsets committed to an empty group). Undefined with another client version.

import type { Kafka } from 'kafkajs'

export interface KafkajsGroupCoordinator {
  leaveGroup(request: { groupId: string; memberId: string }): Promise<unknown>
  offsetCommit(request: {
    groupId: string
    groupGenerationId: number
    memberId: string
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[]
  }): Promise<unknown>
}

export interface KafkajsCluster {
  connect(): Promise<void>
  disconnect(): Promise<void>
  findGroupCoordinator(request: { groupId: string }): Promise<KafkajsGroupCoordinator>
}

export function clusterFactory(kafka: Kafka): ((options: object) => KafkajsCluster) | undefined {
  for (let o: object | null = kafka; o !== null; o = Object.getPrototypeOf(o)) {
    const symbol = Object.getOwnPropertySymbols(o).find(
      (s) => s.description === 'private:Kafka:createCluster',
    )
    if (symbol) return (o as Record<symbol, (options: object) => KafkajsCluster>)[symbol]
  }
  return undefined
}
