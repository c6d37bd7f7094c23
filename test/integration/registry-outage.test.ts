// The schema registry stopped under a running imflow (a registry of this test's own, never
// the shared one): the schemas imflow holds keep traffic flowing (sends over the API are
// accepted while it is down); a record written with a schema imflow has not fetched yet waits
// and is retried, and is accepted once the registry is back; nothing is dead-lettered for it.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import avsc from 'avsc'
import { Partitioners } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import {
  type EmbeddedRegistry,
  startEmbeddedRegistry,
} from '../../ops/embedded/embedded-registry.js'
import { silentLogger } from '../../ops/log.js'
import { freePort } from '../../ops/ports.js'
import { avroSchema } from '../../schemas/avro-schemas.js'
import { registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type { Receipt } from '../../schemas/types.generated.js'
import { eventually, httpCall, startTestApp, testKafka, unique, withAdmin } from './helpers.js'

const secret = 'registry-outage-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

/** SendMessage with one more field (with a default): a compatible schema imflow has never seen. */
function sendMessageV2() {
  const v1 = avroSchema('SendMessage') as { fields: unknown[] }
  return { ...v1, fields: [...v1.fields, { name: 'clientBuild', type: 'string', default: '' }] }
}

describe('imflow while the schema registry is down', () => {
  const prefix = `${unique('regdown')}.`
  let dir: string
  let registry: EmbeddedRegistry | undefined
  let app: RunningApp
  let stopApp: (() => Promise<void>) | undefined

  afterAll(async () => {
    await stopApp?.()
    await registry?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  }, 120_000)

  it('accepts sends on cached schemas, holds a new schema until it is back, dead-letters nothing', {
    timeout: 600_000,
  }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'imflow-regdown-'))
    const port = await freePort()
    const start = () =>
      startEmbeddedRegistry({ port, dataDir: join(dir, 'registry'), log: silentLogger })
    registry = await start()
    ;({ app, stop: stopApp } = await startTestApp(prefix, {
      SCHEMA_REGISTRY_URL: registry.url,
      IMFLOW_JWT_SECRET: secret,
    }))
    const codecs = await registerContract(registrySchemaSource(registry.url), prefix)
    const created = await httpCall(app.url, 'POST', '/v1/conversations', token('root', 'admin'), {
      conversationId: 'crew',
      type: 'GROUP',
      members: ['ann', 'ben'],
    })
    expect(created.status).toBe(201)
    const send = (clientMsgId: string) =>
      eventually(
        async () => {
          const res = await httpCall(app.url, 'POST', '/v1/messages', token('ann'), {
            conversationId: 'crew',
            clientMsgId,
            type: 'TEXT',
            body: clientMsgId,
          })
          return res.status === 200 ? ((await res.json()) as { msgId: string }).msgId : undefined
        },
        { timeoutMs: 60_000, intervalMs: 200, what: `${clientMsgId} to be accepted` },
      )
    for (let i = 0; i < 5; i++) await send(`before-${i}`)

    // A producer's newer schema, registered while the registry is up, never seen by imflow.
    const v2 = sendMessageV2()
    const { id: v2Id } = await new SchemaRegistry({ host: registry.url }).register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v2) },
      { subject: `${prefix}im.ingest-value` },
    )
    const v2Type = avsc.Type.forSchema(v2 as avsc.Schema)
    const framed = (clientMsgId: string) => {
      const header = Buffer.alloc(5)
      header.writeUInt32BE(v2Id, 1)
      const body = v2Type.toBuffer({
        conversationId: 'crew',
        clientMsgId,
        senderId: 'ben',
        type: 'TEXT',
        body: clientMsgId,
        priority: 'HIGH',
        visibility: 'NORMAL',
        targets: [],
        sentAt: Date.now(),
        clientBuild: '2.0',
      })
      return Buffer.concat([header, body])
    }

    // Every receipt of the run, by clientMsgId.
    const kafka = testKafka()
    const receipts = new Map<string, Receipt>()
    const reader = kafka.consumer({ groupId: unique('regdown-receipts') })
    await reader.connect()
    await reader.subscribe({ topic: `${prefix}im.receipts`, fromBeginning: true })
    await reader.run({
      eachMessage: async ({ message }) => {
        const receipt = await codecs['im.receipts'].decode(message.value as Buffer)
        receipts.set(receipt.clientMsgId, receipt)
      },
    })
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    try {
      await registry.stop()
      expect((await fetch(`${registry.url}/subjects`).catch(() => undefined))?.ok).not.toBe(true)

      // Cached schemas: the API's sends are accepted with the registry down.
      for (let i = 0; i < 5; i++) await send(`during-${i}`)
      // A schema imflow has not fetched: the record waits, neither accepted nor dead-lettered.
      await producer.send({
        topic: `${prefix}im.ingest`,
        messages: [0, 1, 2].map((i) => ({ key: 'crew', value: framed(`new-schema-${i}`) })),
      })
      await new Promise((r) => setTimeout(r, 8_000))
      expect(receipts.has('new-schema-0')).toBe(false)

      registry = await start()
      await eventually(
        () => ([0, 1, 2].every((i) => receipts.has(`new-schema-${i}`)) ? true : undefined),
        { timeoutMs: 120_000, intervalMs: 250, what: 'the new schema’s records to be decided' },
      )
      for (let i = 0; i < 3; i++)
        expect(receipts.get(`new-schema-${i}`)?.outcome.kind, `new-schema-${i}`).toBe('Accepted')
      // And the API still accepts.
      await send('after-0')
    } finally {
      await producer.disconnect()
      await reader.disconnect()
    }
    const letters = await withAdmin((admin) => admin.fetchTopicOffsets(`${prefix}im.dead-letter`))
    expect(letters.reduce((n, p) => n + Number(p.high), 0)).toBe(0)
  })
})
