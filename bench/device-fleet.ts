// Devices in a process of their own: benchmarks measure the server's side, not the cost of
// thousands of simulated clients sharing its event loop (in production they are phones).
// The parent forks this file (deviceFleet()), asks it to connect devices, and reads back
// each message's send -> device latency: a message's body ends with `@<send time, epoch ms>`.

import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type ClientMessage, ImflowClient } from '../connectors/client/index.js'
import { nowMs } from './latency.js'

export interface FleetDevice {
  token: string
  /** The large group the device must follow before it counts as ready. */
  group: string
}

type Request =
  | { type: 'connect'; url: string; devices: FleetDevice[] }
  | { type: 'reset' }
  | { type: 'count' }
  | { type: 'report' }
  | { type: 'close' }
type Answer =
  | { type: 'ready' }
  | { type: 'count'; count: number }
  | { type: 'report'; latencies: number[] }
  | { type: 'error'; message: string }

/** The body of a message sent at `at` (epoch ms): the fleet measures from it. */
export const timedBody = (id: string, at: number) => `${id}@${at}`

export interface DeviceFleet {
  /** The devices' process. */
  readonly pid: number
  connect(url: string, devices: FleetDevice[]): Promise<void>
  /** Forgets the latencies measured so far. */
  reset(): void
  /** How many messages the devices received since the last reset. */
  count(): Promise<number>
  /** Every send -> device latency (ms) since the last reset. */
  latencies(): Promise<number[]>
  close(): Promise<void>
}

export function deviceFleet(): DeviceFleet {
  const child = fork(fileURLToPath(import.meta.url), ['--fleet'], {
    // IMFLOW_BENCH_FLEET_PROFILE=<dir>: a CPU profile of the devices' side, written there.
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.IMFLOW_BENCH_FLEET_PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.IMFLOW_BENCH_FLEET_PROFILE}`]
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  })
  const next = (type: Answer['type']) =>
    new Promise<Answer>((resolve, reject) => {
      const onMessage = (answer: Answer) => {
        if (answer.type !== type && answer.type !== 'error') return
        child.off('message', onMessage)
        if (answer.type === 'error') reject(new Error(`device fleet: ${answer.message}`))
        else resolve(answer)
      }
      child.on('message', onMessage)
    })
  const ask = (request: Request) => child.send(request)
  return {
    pid: child.pid ?? 0,
    async connect(url, devices) {
      const ready = next('ready')
      ask({ type: 'connect', url, devices })
      await ready
    },
    reset: () => ask({ type: 'reset' }),
    async count() {
      const answer = next('count')
      ask({ type: 'count' })
      return ((await answer) as { count: number }).count
    },
    async latencies() {
      const answer = next('report')
      ask({ type: 'report' })
      return ((await answer) as { latencies: number[] }).latencies
    },
    async close() {
      const exited = new Promise((r) => child.once('exit', r))
      ask({ type: 'close' })
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))])
      if (child.exitCode === null) child.kill()
    },
  }
}

/** The child: connects the devices, 100 at a time, and measures what they receive. */
function runFleet(): void {
  const clients: ImflowClient[] = []
  let latencies: number[] = []
  const onMessages = (messages: ClientMessage[]) => {
    const at = nowMs()
    for (const m of messages) {
      const sent = Number(m.body.slice(m.body.lastIndexOf('@') + 1))
      if (Number.isFinite(sent) && sent > 0) latencies.push(at - sent)
    }
  }
  const answer = (a: Answer) => process.send?.(a)
  const connect = async (url: string, devices: FleetDevice[]) => {
    for (const [k, { token }] of devices.entries()) {
      const client = new ImflowClient({
        url,
        token,
        deviceId: `bench-${k}`,
        deviceClass: 'DESKTOP',
        reconnect: { initialDelayMs: 500, maxDelayMs: 5_000 },
      })
      client.on('messages', onMessages)
      clients.push(client)
    }
    for (let i = 0; i < clients.length; i += 100) {
      await Promise.all(clients.slice(i, i + 100).map((c) => c.connect()))
    }
    // Ready once every device follows its group (its heads frame arrived).
    const deadline = Date.now() + 600_000
    while (clients.some((c, k) => c.seqs()[devices[k]?.group ?? ''] === undefined)) {
      if (Date.now() > deadline) throw new Error('devices did not follow their groups in 600 s')
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  process.on('message', (request: Request) => {
    if (request.type === 'connect') {
      connect(request.url, request.devices).then(
        () => answer({ type: 'ready' }),
        (err) => answer({ type: 'error', message: String(err) }),
      )
    } else if (request.type === 'reset') {
      latencies = []
    } else if (request.type === 'count') {
      answer({ type: 'count', count: latencies.length })
    } else if (request.type === 'report') {
      answer({ type: 'report', latencies })
    } else {
      Promise.all(clients.map((c) => c.close().catch(() => {}))).then(() => process.exit(0))
    }
  })
}

if (process.argv.includes('--fleet')) runFleet()
