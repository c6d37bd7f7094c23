// The embedded servers' launchers fail early and clearly: a taken port or a missing Java is
// reported with what to do, before any JVM is left running.

import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmbeddedKafka } from '../../ops/embedded/embedded-kafka.js'
import { startEmbeddedRegistry } from '../../ops/embedded/embedded-registry.js'
import { isImflowError } from '../../ops/errors.js'
import { silentLogger } from '../../ops/log.js'
import { freePort } from '../../ops/ports.js'

let dataDir: string
let squatter: Server
let takenPort: number

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'imflow-launcher-'))
  squatter = createServer()
  await new Promise<void>((resolve) => squatter.listen({ host: '127.0.0.1', port: 0 }, resolve))
  const address = squatter.address()
  takenPort = typeof address === 'object' && address ? address.port : 0
})

afterAll(async () => {
  await new Promise((resolve) => squatter.close(resolve))
  await rm(dataDir, { recursive: true, force: true })
})

describe('embedded launchers', () => {
  it('Kafka: a taken port fails with IMF_ERR_PORT_IN_USE and the settings that fix it', async () => {
    const err = await startEmbeddedKafka({ port: takenPort, dataDir, log: silentLogger }).catch(
      (e) => e,
    )
    expect(isImflowError(err, 'IMF_ERR_PORT_IN_USE')).toBe(true)
    expect(err.message).toContain(`127.0.0.1:${takenPort}`)
    expect(err.message).toContain('IMFLOW_KAFKA_PORT')
    expect(err.message).toContain('KAFKA_BROKERS')
  })

  it('registry: a taken port fails with IMF_ERR_PORT_IN_USE and the settings that fix it', async () => {
    const err = await startEmbeddedRegistry({ port: takenPort, dataDir, log: silentLogger }).catch(
      (e) => e,
    )
    expect(isImflowError(err, 'IMF_ERR_PORT_IN_USE')).toBe(true)
    expect(err.message).toContain('IMFLOW_REGISTRY_PORT')
    expect(err.message).toContain('SCHEMA_REGISTRY_URL')
  })

  it('a Java home without java fails with IMF_ERR_JAVA_MISSING naming IMFLOW_JAVA_HOME', async () => {
    const javaHome = join(dataDir, 'no-jdk-here')
    const err = await startEmbeddedKafka({ port: 0, dataDir, javaHome, log: silentLogger }).catch(
      (e) => e,
    )
    expect(isImflowError(err, 'IMF_ERR_JAVA_MISSING')).toBe(true)
    expect(err.message).toContain('Java 17 or newer')
    expect(err.message).toContain(`IMFLOW_JAVA_HOME=${javaHome}`)
  })

  it('`imflow start` reports a missing Java on stderr and exits 1, leaving nothing running', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'ops/app/bin.ts', 'start'], {
      env: {
        ...process.env,
        KAFKA_BROKERS: undefined,
        SCHEMA_REGISTRY_URL: undefined,
        IMFLOW_JAVA_HOME: '/nonexistent/jdk',
        IMFLOW_DATA_DIR: dataDir,
        IMFLOW_PORT: String(await freePort()),
        IMFLOW_KAFKA_PORT: String(await freePort()),
        IMFLOW_REGISTRY_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(stderr).toContain('IMF_ERR_JAVA_MISSING')
    expect(stderr).toContain('IMFLOW_JAVA_HOME=/nonexistent/jdk')
  })
})
