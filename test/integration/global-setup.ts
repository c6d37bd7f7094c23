// Starts one real Kafka broker and one real schema registry for the integration run, or
// uses KAFKA_BROKERS / SCHEMA_REGISTRY_URL when they are set. Tests reach them via inject().

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { loadConfig } from '../../ops/app/config.js'
import { startInfrastructure } from '../../ops/app/infrastructure.js'
import { createLogger } from '../../ops/log.js'
import { freePort } from '../../ops/ports.js'

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[]
    schemaRegistryUrl: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'imflow-test-'))
  const config = loadConfig({
    // Every test makes topics of its own on this one broker: a broker that took most of the
    // suite and more (9,200 partitions) ran out of the default 512m heap, after minutes of GC.
    IMFLOW_KAFKA_HEAP: '1536m',
    ...process.env,
    IMFLOW_DATA_DIR: dataDir,
    IMFLOW_KAFKA_PORT: String(await freePort()),
    IMFLOW_REGISTRY_PORT: String(await freePort()),
    IMFLOW_PORT: String(await freePort()),
  })
  const log = createLogger('warn').child('test-infra')
  const started = Date.now()
  const infra = await startInfrastructure(config, log)
  process.stderr.write(
    `test infrastructure ready in ${((Date.now() - started) / 1000).toFixed(1)}s: kafka ${infra.kafkaBrokers.join(',')}${infra.embedded.kafka ? ' (embedded)' : ''}, registry ${infra.schemaRegistryUrl}${infra.embedded.registry ? ' (embedded)' : ''}\n`,
  )
  project.provide('kafkaBrokers', [...infra.kafkaBrokers])
  project.provide('schemaRegistryUrl', infra.schemaRegistryUrl)
  return async () => {
    await infra.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
