// Which partition a key lands on: Kafka's default partitioner (murmur2 of the key bytes,
// made positive, modulo the partition count) — the same as kafkajs' DefaultPartitioner and
// the Java client, so the API can find the task that owns a conversation or a user.

import { murmur2 } from '../../ops/kafkajs-murmur2.js'

export function partitionForKey(key: Buffer | string, partitions: number): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key
  return (murmur2(bytes) & 0x7fffffff) % partitions
}
