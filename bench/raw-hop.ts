// The baseline of the latency benchmarks: one produce -> consume hop of raw kafkajs on the same
// broker, paced like the messages it is compared with.

import { type Kafka, Partitioners } from 'kafkajs'
import { waitFor } from './broker.js'
import { nowMs, paced } from './latency.js'

/** One produce -> consume hop of raw kafkajs, paced like the messages. */
export async function rawHop(
  kafka: Kafka,
  topic: string,
  rate: number,
  seconds: number,
): Promise<number[]> {
  const count = rate * seconds
  const latencies: number[] = []
  const consumer = kafka.consumer({ groupId: `${topic}-reader`, maxWaitTimeInMs: 250 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      latencies.push(nowMs() - Number(message.value?.toString()))
    },
  })
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  // The consumer must be positioned before the clock starts.
  await producer.send({ topic, messages: [{ key: 'warm', value: String(nowMs()) }] })
  await waitFor(async () => latencies.length >= 1, 120_000)
  latencies.length = 0
  await paced(count, rate, async (i) => {
    await producer.send({ topic, messages: [{ key: `k${i % 64}`, value: String(nowMs()) }] })
  })
  await waitFor(async () => latencies.length >= count, 120_000)
  await producer.disconnect()
  await consumer.disconnect()
  return latencies
}
