// Apicurio Registry 3.x (Quarkus fast-jar from Maven Central) on 127.0.0.1, serving the
// Confluent-compatible API under /apis/ccompat/v7. Schemas live in an H2 file database in
// the data folder, so they survive the registry's restarts.

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ImflowError } from '../errors.js'
import { assertPortFree, freePort } from '../ports.js'
import { ensureJars } from './fetch-jars.js'
import { findJava } from './java.js'
import { type EmbeddedServerOptions, type JvmProcess, spawnJvm } from './jvm-process.js'
import { waitUntilReady } from './wait-until-ready.js'

export interface EmbeddedRegistry {
  /** The Confluent-compatible base URL, as SCHEMA_REGISTRY_URL would give it. */
  readonly url: string
  readonly process: JvmProcess
  stop(): Promise<void>
}

const HOST = '127.0.0.1'
export const CCOMPAT_PATH = '/apis/ccompat/v7'

export async function startEmbeddedRegistry(
  options: EmbeddedServerOptions,
): Promise<EmbeddedRegistry> {
  const { port, log } = options
  await assertPortFree(
    HOST,
    port,
    'The embedded schema registry',
    'Stop what listens there, choose another port with IMFLOW_REGISTRY_PORT, or set SCHEMA_REGISTRY_URL to use a running registry.',
  )
  // Apicurio 3.3 is compiled for Java 21 (class file version 65).
  const java = await findJava(21, 'The embedded schema registry (Apicurio Registry 3.3)', {
    javaHome: options.javaHome,
  })
  const jars = await ensureJars(log, { kafka: false, registry: true })
  const dir = options.dataDir
  await mkdir(dir, { recursive: true })
  const managementPort = await freePort(HOST)

  log.info(`starting Apicurio Registry ${jars.registryVersion}`, { port, java: java.bin })
  const jvm = await spawnJvm({
    name: 'registry',
    java: java.bin,
    args: [`-Xmx${options.heap ?? '384m'}`, '-XX:+UseSerialGC', '-jar', jars.registryJar],
    env: {
      ...process.env,
      QUARKUS_HTTP_HOST: HOST,
      QUARKUS_HTTP_PORT: String(port),
      // The management interface (health, metrics) would bind 0.0.0.0:9000 by default.
      QUARKUS_MANAGEMENT_HOST: HOST,
      QUARKUS_MANAGEMENT_PORT: String(managementPort),
      APICURIO_STORAGE_KIND: 'sql',
      APICURIO_STORAGE_SQL_KIND: 'h2',
      APICURIO_DATASOURCE_URL: `jdbc:h2:file:${join(dir, 'registry')}`,
      QUARKUS_OTEL_SDK_DISABLED: 'true',
    },
    cwd: dir,
    logFile: join(dir, 'registry.log'),
    pidFile: join(dir, 'registry.pid'),
    log,
  })
  const base = `http://${HOST}:${port}${CCOMPAT_PATH}`
  try {
    await waitUntilReady({
      what: 'The embedded schema registry',
      process: jvm,
      timeoutMs: options.startTimeoutMs ?? 120_000,
      probe: async () => {
        const res = await fetch(`${base}/subjects`, { signal: AbortSignal.timeout(2_000) })
        if (!res.ok)
          throw new ImflowError(
            'IMF_ERR_REGISTRY_UNAVAILABLE',
            `GET /subjects answered ${res.status}`,
          )
      },
    })
    // Confluent's default, and what imflow's evolution rules assume.
    const res = await fetch(`${base}/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    })
    if (!res.ok) {
      throw new ImflowError(
        'IMF_ERR_REGISTRY_UNAVAILABLE',
        `The embedded registry refused the BACKWARD compatibility setting: ${res.status} ${await res.text()}`,
      )
    }
  } catch (err) {
    await jvm.stop()
    throw err
  }
  log.info('schema registry is ready', { url: base })
  return { url: base, process: jvm, stop: () => jvm.stop() }
}
