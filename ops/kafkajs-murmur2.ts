// Kafka's default partitioner hash (murmur2 of the key bytes, as the Java client): in 32-bit
// integer arithmetic (Math.imul). kafkajs 2.2.4 computes it through its BigInt Long, a few
// BigInts per 4 key bytes, for every record produced without a partition (the API's sends,
// keyed outputs): the same hash (test/unit/kafkajs-murmur2.test.ts compares it with kafkajs'
// own), put in kafkajs' place before it loads (ops/kafkajs-fixes.ts). The low 32 bits of a
// 64-bit product or xor depend only on the operands' low 32 bits, so nothing is lost.

import { isPrimed, prime } from './kafkajs-prime.js'

const MODULE = 'kafkajs/src/producer/partitioners/default/murmur2.js'

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

/** kafkajs' murmur2 module: a key of any type, as a Buffer or as its string. */
function kafkajsMurmur2(key: unknown): number {
  return murmur2(Buffer.isBuffer(key) ? key : Buffer.from(String(key)))
}

prime(MODULE, kafkajsMurmur2)

/** Whether kafkajs' default partitioner hashes with kafkajsMurmur2 (false if it loaded first). */
export function murmur2Fixed(): boolean {
  return isPrimed(MODULE, kafkajsMurmur2)
}
