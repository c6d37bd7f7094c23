// The embedded registry keeps its schemas across its own restart (H2 file storage), and
// enforces BACKWARD compatibility, Confluent's default, which imflow's evolution relies on.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type EmbeddedRegistry,
  startEmbeddedRegistry,
} from '../../ops/embedded/embedded-registry.js'
import { silentLogger } from '../../ops/log.js'
import { freePort } from '../../ops/ports.js'

const v1 = {
  type: 'record',
  name: 'Profile',
  namespace: 'dev.imflow.test',
  fields: [{ name: 'userId', type: 'string' }],
}

describe('the embedded schema registry', () => {
  let dataDir: string
  let running: EmbeddedRegistry | undefined

  afterAll(async () => {
    await running?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('keeps a schema across its own restart', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'imflow-registry-'))
    const port = await freePort()
    running = await startEmbeddedRegistry({ port, dataDir, log: silentLogger })
    const { id } = await new SchemaRegistry({ host: running.url }).register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v1) },
      { subject: 'profiles-value' },
    )
    await running.stop()
    expect(running.process.hasExited()).toBe(true)

    running = await startEmbeddedRegistry({ port, dataDir, log: silentLogger })
    const registry = new SchemaRegistry({ host: running.url })
    expect(await registry.getLatestSchemaId('profiles-value')).toBe(id)
    const stored = (await fetch(`${running.url}/schemas/ids/${id}`).then((r) => r.json())) as {
      schema: string
    }
    expect(JSON.parse(stored.schema)).toEqual(v1)
    const encoded = await registry.encode(id, { userId: 'u-1' })
    expect(await registry.decode(encoded)).toEqual({ userId: 'u-1' })
  })

  it('rejects a change that breaks BACKWARD compatibility, accepts one that keeps it', async () => {
    if (!running) throw new Error('the previous test starts the registry')
    const registry = new SchemaRegistry({ host: running.url })
    const breaking = { ...v1, fields: [...v1.fields, { name: 'geo', type: 'string' }] }
    const err = await registry
      .register(
        { type: SchemaType.AVRO, schema: JSON.stringify(breaking) },
        { subject: 'profiles-value' },
      )
      .catch((e) => e)
    expect(err).toBeInstanceOf(Error)
    expect(String(err.message)).toMatch(/compat|409/i)

    const compatible = {
      ...v1,
      fields: [...v1.fields, { name: 'geo', type: 'string', default: 'home' }],
    }
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(compatible) },
      { subject: 'profiles-value' },
    )
    expect(await registry.getLatestSchemaId('profiles-value')).toBe(id)
  })
})
