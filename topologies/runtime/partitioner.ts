// Which partition a key lands on: Kafka's default partitioner (murmur2 of the key bytes,
// made positive, modulo the partition count) — the same as kafkajs' DefaultPartitioner and
// the Java client, so the API can find the task that owns a conversation or a user.

export function murmur2(data: Buffer): number {
  const m = 0x5bd1e995
  const length = data.length
  let h = 0x9747b28c ^ length
  const length4 = length >>> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4
    let k =
      ((data[i4] as number) & 0xff) |
      (((data[i4 + 1] as number) & 0xff) << 8) |
      (((data[i4 + 2] as number) & 0xff) << 16) |
      (((data[i4 + 3] as number) & 0xff) << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m)
    h ^= k
  }
  const tail = length & ~3
  const rest = length % 4
  if (rest === 3) h ^= ((data[tail + 2] as number) & 0xff) << 16
  if (rest >= 2) h ^= ((data[tail + 1] as number) & 0xff) << 8
  if (rest >= 1) {
    h ^= (data[tail] as number) & 0xff
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

export function partitionForKey(key: Buffer | string, partitions: number): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key
  return (murmur2(bytes) & 0x7fffffff) % partitions
}
