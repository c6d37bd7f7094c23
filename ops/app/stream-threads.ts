// IMFLOW_STREAM_THREADS: the topologies run in that many processes, one Node event loop each,
// so processing uses every core. The first is `imflow start` itself (with the API and the push
// gateway); each other is `imflow start` again as a child with the same settings, its own port,
// data folder and no gateway: an instance of the same application id, so the group spreads the
// tasks over all of them and queries reach any task through the peer routes (docs/runtime.md,
// "Stream threads"). A child that exits is started again; one whose parent dies stops itself.

import { type ChildProcess, fork } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Probe } from '../health.js'
import type { Logger } from '../log.js'
import type { MetricsJson } from '../metrics.js'
import { freePort } from '../ports.js'
import type { Config, Flags } from './config.js'
import type { Infrastructure } from './infrastructure.js'

/** What a child says on its IPC channel once it is up. */
export const READY_MESSAGE = 'imflow:stream-thread-ready'
/** Asked of a child for its metrics (prom-client JSON), answered as { metrics }. */
export const METRICS_REQUEST = 'imflow:stream-thread-metrics'
/** How long /metrics waits for a child's: a busy or dead one is left out, not waited for. */
const METRICS_TIMEOUT_MS = 2_000
const RESTART_DELAY_MS = { first: 1_000, max: 30_000 }
const STOP_TIMEOUT_MS = 30_000
const BIN = fileURLToPath(new URL('./bin.ts', import.meta.url))

/** The child's command line: the parent's flags, with what must differ per process. */
function childArgs(flags: Flags, own: Flags): string[] {
  const merged = { ...flags, ...own }
  return [
    'start',
    ...Object.entries(merged).flatMap(([name, value]) =>
      value === undefined ? [] : [`--${name}=${value}`],
    ),
  ]
}

function withPort(url: string, port: number): string {
  const u = new URL(url)
  u.port = String(port)
  return u.toString().replace(/\/+$/, '')
}

class StreamThread {
  private child: ChildProcess | undefined
  private ready = false
  private stopping = false
  private restartDelay = RESTART_DELAY_MS.first
  private exited: Promise<void> = Promise.resolve()

  constructor(
    readonly index: number,
    private readonly args: (port: number) => string[],
    private readonly host: string,
    private readonly log: Logger,
  ) {}

  state(): { ok: boolean; detail: string } {
    const pid = this.child?.pid
    return this.ready
      ? { ok: true, detail: `stream thread ${this.index} (pid ${pid}) is up` }
      : { ok: false, detail: `stream thread ${this.index} is ${pid ? 'starting' : 'restarting'}` }
  }

  async start(): Promise<void> {
    const port = await freePort(this.host)
    if (this.stopping) return
    // The child runs the TypeScript sources through tsx, as the parent does (npm start).
    const child = fork(BIN, this.args(port), { execArgv: ['--import', import.meta.resolve('tsx')] })
    this.child = child
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    child.on('message', (message) => {
      if (message !== READY_MESSAGE) return
      this.ready = true
      this.restartDelay = RESTART_DELAY_MS.first
      this.log.info('stream thread up', { thread: this.index, pid: child.pid, port })
    })
    child.once('exit', (code, signal) => {
      this.ready = false
      if (this.child === child) this.child = undefined
      if (this.stopping) return
      this.log.warn('a stream thread exited; starting it again', {
        thread: this.index,
        code,
        signal,
        inMs: this.restartDelay,
      })
      setTimeout(() => {
        this.start().catch((err) =>
          this.log.error('could not start a stream thread', { error: String(err) }),
        )
      }, this.restartDelay)
      this.restartDelay = Math.min(RESTART_DELAY_MS.max, this.restartDelay * 2)
    })
  }

  /** The child's metrics, or undefined when it is not up or does not answer in time. */
  metrics(): Promise<MetricsJson | undefined> {
    const child = this.child
    if (!this.ready || !child?.connected) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const done = (value: MetricsJson | undefined) => {
        clearTimeout(timer)
        child.off('message', onMessage)
        resolve(value)
      }
      const onMessage = (message: unknown) => {
        const answer = message as { metrics?: MetricsJson } | null
        if (answer && typeof answer === 'object' && Array.isArray(answer.metrics))
          done(answer.metrics)
      }
      const timer = setTimeout(() => done(undefined), METRICS_TIMEOUT_MS)
      child.on('message', onMessage)
      child.send(METRICS_REQUEST)
    })
  }

  /** Asks the child to stop (SIGTERM: it commits and leaves the group); kills it past a timeout. */
  async stop(): Promise<void> {
    this.stopping = true
    const child = this.child
    if (!child || child.exitCode !== null) return
    child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), STOP_TIMEOUT_MS)
    })
    if ((await Promise.race([this.exited, late])) === 'late') {
      this.log.warn('a stream thread did not stop in time; killing it', { thread: this.index })
      child.kill('SIGKILL')
      await this.exited
    }
    clearTimeout(timer)
  }
}

export class StreamThreads {
  private readonly threads: StreamThread[] = []

  constructor(
    private readonly config: Config,
    private readonly flags: Flags,
    private readonly log: Logger,
  ) {}

  /** For /readyz: every other process up (none when there is one thread). */
  get probes(): Record<string, Probe> {
    if (this.config.streamThreads < 2) return {}
    return {
      stream_threads: async () => {
        const states = this.threads.map((t) => t.state())
        const down = states.filter((s) => !s.ok)
        if (states.length < this.config.streamThreads - 1)
          return { ok: false, detail: 'stream threads starting' }
        return down.length === 0
          ? { ok: true, detail: states.map((s) => s.detail).join('; ') }
          : { ok: false, detail: down.map((s) => s.detail).join('; ') }
      },
    }
  }

  /** The other processes' metrics, for the first one's /metrics. */
  async metrics(): Promise<MetricsJson[]> {
    const all = await Promise.all(this.threads.map((t) => t.metrics()))
    return all.filter((m): m is MetricsJson => m !== undefined)
  }

  /** Starts the other processes on the running infrastructure (Kafka, registry, topics). */
  async start(infrastructure: Infrastructure): Promise<void> {
    const { config } = this
    for (let index = 2; index <= config.streamThreads; index++) {
      const thread = new StreamThread(
        index,
        (port) =>
          childArgs(this.flags, {
            brokers: infrastructure.kafkaBrokers.join(','),
            registry: infrastructure.schemaRegistryUrl,
            port: String(port),
            'advertised-url': withPort(config.advertisedUrl, port),
            'data-dir': join(config.dataDir, 'stream-threads', String(index)),
            'stream-threads': '1',
            gateway: 'off',
          }),
        config.apiHost,
        this.log,
      )
      this.threads.push(thread)
      await thread.start()
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.stop()))
  }
}
