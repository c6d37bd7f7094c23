// `imflow start` as a user runs it: a separate process that brings up the embedded Kafka and
// registry, becomes ready, and leaves no JVM behind — neither after Ctrl-C (SIGINT) nor
// after it is killed outright (SIGKILL), when the kernel's parent-death signal must act.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../ops/ports.js'
import { contractTopics } from '../../schemas/topics.js'
import { eventually } from './helpers.js'

interface Started {
  child: ChildProcessWithoutNullStreams
  api: string
  output: () => string
  exited: Promise<number | null>
}

async function startCli(env: NodeJS.ProcessEnv): Promise<Started> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'ops/app/bin.ts', 'start'], {
    env: { ...process.env, IMFLOW_PORT: String(port), ...env },
  })
  let output = ''
  child.stdout.on('data', (d) => {
    output += d
  })
  child.stderr.on('data', (d) => {
    output += d
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  const api = `http://127.0.0.1:${port}`
  // Ready, or failed: an imflow that exits while starting fails the test at once.
  const exitedEarly = exited.then((code) => {
    throw new Error(`imflow start exited with ${code} before it was ready:\n${output}`)
  })
  const ready = eventually(
    async () => ((await fetch(`${api}/readyz`)).status === 200 ? true : undefined),
    { timeoutMs: 100_000, intervalMs: 250, what: '/readyz to answer 200' },
  )
  await Promise.race([ready, exitedEarly]).catch((err) => {
    child.kill('SIGKILL')
    throw new Error(`${err.message}\n${output}`)
  })
  exitedEarly.catch(() => {}) // a later, intended exit is awaited by the test itself
  return { child, api, output: () => output, exited }
}

/** A process is gone when /proc has no entry or only a zombie awaiting its reaper. */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')
  } catch {
    return false
  }
}

describe('imflow start', () => {
  let dataDir: string
  const env = async () => ({
    KAFKA_BROKERS: undefined,
    SCHEMA_REGISTRY_URL: undefined,
    IMFLOW_DATA_DIR: dataDir,
    IMFLOW_KAFKA_PORT: String(await freePort()),
    IMFLOW_REGISTRY_PORT: String(await freePort()),
    IMFLOW_PARTITIONS: '2',
    // A loaded machine's event-loop stall must not shed (and fail /readyz) in a start-stop test.
    IMFLOW_MAX_EVENT_LOOP_LAG_MS: '0',
  })
  const jvmPids = async () =>
    Promise.all(
      ['kafka/kafka.pid', 'registry/registry.pid'].map(async (f) =>
        Number((await readFile(join(dataDir, f), 'utf8')).trim()),
      ),
    )

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'imflow-cli-'))
  })
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true })
  })

  it('starts embedded Kafka and registry, is ready, and stops cleanly on SIGINT', async () => {
    const app = await startCli(await env())
    const pids = await jvmPids()
    expect(pids.every(alive)).toBe(true)
    const health = (await fetch(`${app.api}/readyz`).then((r) => r.json())) as { checks: unknown }
    expect(health.checks).toEqual({
      kafka: { ok: true },
      schema_registry: { ok: true },
      push_gateway: { ok: true },
      topologies: { ok: true },
      load: { ok: true },
      forward_targets: { ok: true },
    })

    app.child.kill('SIGINT')
    expect(await app.exited).toBe(0)
    expect(app.output()).toContain('stopped')
    expect(pids.filter(alive)).toEqual([])
  })

  it('restarts on the same data, and a SIGKILLed imflow leaves no JVM behind', async () => {
    const app = await startCli(await env())
    expect(app.output()).toContain('created=0') // the topics survived the restart
    const pids = await jvmPids()
    app.child.kill('SIGKILL')
    await app.exited
    await eventually(() => (pids.some(alive) ? undefined : true), {
      timeoutMs: 30_000,
      what: `JVMs ${pids.join(', ')} to exit after their parent was killed`,
    })
  })

  it('uses the configured Kafka and registry instead of starting its own', async () => {
    const app = await startCli({
      KAFKA_BROKERS: inject('kafkaBrokers').join(','),
      SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
      IMFLOW_DATA_DIR: join(dataDir, 'external'),
      IMFLOW_TOPIC_PREFIX: 'cli-external.',
      IMFLOW_PARTITIONS: '2',
    })
    expect(app.output()).not.toContain('starting Apache Kafka')
    expect(app.output()).not.toContain('starting Apicurio Registry')
    expect(app.output()).toContain(`kafka=${inject('kafkaBrokers').join(',')}`)
    // Every contract schema was registered at start, under <topic>-value.
    const subjects = (await fetch(`${inject('schemaRegistryUrl')}/subjects`).then((r) =>
      r.json(),
    )) as string[]
    for (const t of contractTopics) expect(subjects).toContain(`cli-external.${t.base}-value`)
    app.child.kill('SIGTERM')
    expect(await app.exited).toBe(0)
  })
})
