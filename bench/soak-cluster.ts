// What the soak runs and breaks: a broker of its own (never a shared one), a registry (the
// configured one, or an embedded one of its own), and `imflow start` as a child process that
// can be SIGKILLed and started again on the same data folder and port.

import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { type EmbeddedKafka, startEmbeddedKafka } from '../ops/embedded/embedded-kafka.js'
import { type EmbeddedRegistry, startEmbeddedRegistry } from '../ops/embedded/embedded-registry.js'
import { createLogger } from '../ops/log.js'
import { freePort } from '../ops/ports.js'
import { waitFor } from './broker.js'

const quiet = createLogger('warn')

export interface SoakBroker {
  brokers(): string[]
  /** SIGKILL, a pause, and a start on the same data: the time it was back (ready). */
  restart(pauseMs: number): Promise<number>
  /** SIGKILL, and no start: a paused soak. */
  crash(): Promise<void>
  pid(): number
  stop(): Promise<void>
}

export async function startSoakBroker(dir: string): Promise<SoakBroker> {
  const port = await freePort()
  const start = () =>
    startEmbeddedKafka({ port, dataDir: join(dir, 'kafka'), log: quiet, heap: '768m' })
  let broker: EmbeddedKafka = await start()
  return {
    brokers: () => broker.brokers,
    async restart(pauseMs) {
      process.kill(broker.process.pid, 'SIGKILL')
      await broker.process.exited
      await new Promise((r) => setTimeout(r, pauseMs))
      broker = await start()
      return Date.now()
    },
    async crash() {
      process.kill(broker.process.pid, 'SIGKILL')
      await broker.process.exited
    },
    pid: () => broker.process.pid,
    stop: () => broker.stop(),
  }
}

/** SCHEMA_REGISTRY_URL when set (the soak never stops it), else a registry of the soak's own. */
export async function soakRegistry(
  dir: string,
): Promise<{ url: string; pid?: number; stop(): Promise<void> }> {
  const configured = process.env.SCHEMA_REGISTRY_URL
  if (configured) return { url: configured, stop: async () => {} }
  const registry: EmbeddedRegistry = await startEmbeddedRegistry({
    port: await freePort(),
    dataDir: join(dir, 'registry'),
    log: quiet,
  })
  return { url: registry.url, pid: registry.process.pid, stop: () => registry.stop() }
}

export interface SoakApp {
  readonly url: string
  /** SIGKILL, then a start on the same data folder; resolves once /readyz answers 200. */
  kill(): Promise<void>
  /** SIGKILL, and no start: a paused soak. */
  crash(): Promise<void>
  pid(): number | undefined
  stop(): Promise<void>
}

/** `imflow start` in a child process; its output is appended to app.log in the run folder. */
export async function startSoakApp(dir: string, env: Record<string, string>): Promise<SoakApp> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const out = createWriteStream(join(dir, 'app.log'), { flags: 'a' })
  let child: ChildProcess
  const launch = async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'ops/app/bin.ts', 'start'], {
      env: { ...process.env, ...env, IMFLOW_PORT: String(port), IMFLOW_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout?.pipe(out, { end: false })
    child.stderr?.pipe(out, { end: false })
    const started = child
    await waitFor(async () => {
      if (started.exitCode !== null) throw new Error(`imflow start exited with ${started.exitCode}`)
      const res = await fetch(`${url}/readyz`).catch(() => undefined)
      return res?.status === 200
    }, 600_000)
  }
  const exit = () =>
    new Promise<void>((resolve) =>
      child.exitCode !== null || child.signalCode !== null
        ? resolve()
        : child.once('exit', () => resolve()),
    )
  await launch()
  return {
    url,
    async kill() {
      child.kill('SIGKILL')
      await exit()
      await launch()
    },
    async crash() {
      child.kill('SIGKILL')
      await exit()
      out.end()
    },
    pid: () => child.pid,
    async stop() {
      child.kill('SIGTERM')
      await exit()
      out.end()
    },
  }
}
