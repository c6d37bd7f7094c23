// Codec benchmark: Avro encode+decode (Confluent wire format, through imflow's codec) of
// SendMessage and SyncEnvelope, against JSON.stringify + JSON.parse of the same objects
// to and from bytes, in the same run. Usage: npm run bench -- codec

import { createEventCodec } from '../schemas/codec.js'
import { memorySchemaSource } from '../schemas/schema-source.js'
import type { SendMessage, StoredMessage, SyncEnvelope } from '../schemas/types.generated.js'
import { formatRate, measure } from './measure.js'
import { against, type BenchFigure, type BenchResult } from './result.js'

const sendMessage: SendMessage = {
  conversationId: 'conv-0000012345',
  clientMsgId: '3f2b9c1e-6a7d-4e0f-9b8a-2c5d7e9f1a3b',
  senderId: 'user-00098765',
  type: 'TEXT',
  body: 'The quarterly approval flow is done; please review the attached figures before the 3pm call.',
  priority: 'HIGH',
  visibility: 'NORMAL',
  targets: [],
  sentAt: 1_763_900_000_000,
}

const stored = (i: number): StoredMessage => ({
  ...sendMessage,
  msgId: String(412_345_678_901_234_567n + BigInt(i)),
  clientMsgId: `${sendMessage.clientMsgId}-${i}`,
  createdAt: 1_763_900_000_100 + i,
  seq: 0,
})

/** A push of 10 new messages to two devices: a typical envelope after a short pause. */
const syncEnvelope: SyncEnvelope = {
  userId: 'user-00012345',
  deviceIds: ['ios-1', 'mac-2'],
  createdAt: 1_763_900_000_200,
  content: {
    kind: 'SyncBatch',
    events: Array.from({ length: 10 }, (_, i) => ({
      pts: 90_000 + i,
      event: {
        priority: 'HIGH' as const,
        payload: { kind: 'NewMessage' as const, message: stored(i) },
      },
    })),
  },
}

export async function codecBench(): Promise<BenchResult> {
  const source = memorySchemaSource()
  const lines: string[] = []
  const figures: BenchFigure[] = []
  const cases = [
    {
      name: 'SendMessage',
      value: sendMessage,
      codec: await createEventCodec(source, 'ingest-value', 'SendMessage'),
    },
    {
      name: 'SyncEnvelope',
      value: syncEnvelope,
      codec: await createEventCodec(source, 'sync-value', 'SyncEnvelope'),
    },
  ] as const
  lines.push('codec: encode+decode round trips per second (median of 7 rounds)')
  lines.push(
    `${'event'.padEnd(14)}${'avro'.padStart(12)}${'json'.padStart(12)}${'avro/json'.padStart(11)}${'bytes avro/json'.padStart(18)}`,
  )
  for (const c of cases) {
    const codec = c.codec as { encode(v: unknown): Buffer; decode(b: Buffer): Promise<unknown> }
    const avro = await measure(`${c.name} avro`, async () => codec.decode(codec.encode(c.value)))
    const json = await measure(`${c.name} json`, () =>
      JSON.parse(Buffer.from(JSON.stringify(c.value)).toString()),
    )
    const avroBytes = codec.encode(c.value).length
    const jsonBytes = Buffer.byteLength(JSON.stringify(c.value))
    const json$ = { label: `${c.name} json`, value: json.opsPerSec }
    figures.push(
      { ...json$, unit: 'round trips/s' },
      against(`${c.name} avro`, avro.opsPerSec, 'round trips/s', json$),
      against(`${c.name} avro bytes`, avroBytes, 'bytes', {
        label: `${c.name} json bytes`,
        value: jsonBytes,
      }),
    )
    lines.push(
      `${c.name.padEnd(14)}${formatRate(avro.opsPerSec).padStart(12)}${formatRate(json.opsPerSec).padStart(12)}${(avro.opsPerSec / json.opsPerSec).toFixed(2).padStart(11)}${`${avroBytes}/${jsonBytes} = ${(avroBytes / jsonBytes).toFixed(2)}`.padStart(18)}`,
    )
  }
  return { text: lines.join('\n'), figures }
}
