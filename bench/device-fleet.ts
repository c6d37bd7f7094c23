// Devices in processes of their own: benchmarks measure the server's side, not the cost of
// thousands of simulated clients sharing its event loop (in production they are phones).
// The parent forks this file (deviceFleet()) once per process, asks each to connect its share
// of the devices, and reads back each message's send -> device latency: a message's body ends
// with `@<send time, epoch ms>`.

import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type ClientMessage, ImflowClient } from '../connectors/client/index.js'
import { nowMs } from './latency.js'
import { lightDevice } from './light-device.js'

export interface FleetDevice {
  token: string
  /** The large group the device must follow before it counts as ready; none: ready once connected. */
  group?: string
}

type Request =
  | { type: 'connect'; url: string; devices: FleetDevice[]; index: number }
  | { type: 'reset' }
  | { type: 'count' }
  | { type: 'report' }
  | { type: 'close' }
type Answer =
  | { type: 'ready' }
  | { type: 'count'; count: number; rebases: number }
  | { type: 'report'; latencies: number[] }
  | { type: 'error'; message: string }

/** The body of a message sent at `at` (epoch ms): the fleet measures from it. */
export const timedBody = (id: string, at: number) => `${id}@${at}`

export interface DeviceFleet {
  /** The devices' processes. */
  readonly pids: readonly number[]
  connect(url: string, devices: FleetDevice[]): Promise<void>
  /** Forgets the latencies measured so far. */
  reset(): void
  /** How many messages the devices received since the last reset. */
  count(): Promise<number>
  /** How many Rebases the devices got since the last reset (they reload instead of being pushed). */
  rebases(): Promise<number>
  /** Every send -> device latency (ms) since the last reset. */
  latencies(): Promise<number[]>
  close(): Promise<void>
}

/**
 * What a simulated device is: `light` (light-device.ts, what the protocol asks and no more:
 * the fleet costs the machine little beside the server) or `client` (ImflowClient, the
 * reference client with its whole state).
 */
export type FleetKind = 'light' | 'client'

export interface FleetOptions {
  kind?: FleetKind
  /** Processes the devices are spread over (each its own event loop). */
  processes?: number
}

/** The devices, spread over `processes` child processes (round robin). */
export function deviceFleet({ kind = 'light', processes = 2 }: FleetOptions = {}): DeviceFleet {
  const children = Array.from({ length: processes }, () => fleetProcess(kind))
  return {
    pids: children.map((c) => c.pid),
    async connect(url, devices) {
      await Promise.all(
        children.map((child, k) =>
          child.connect(
            url,
            devices.filter((_, i) => i % processes === k),
            k,
          ),
        ),
      )
    },
    reset: () => {
      for (const child of children) child.reset()
    },
    count: async () =>
      (await Promise.all(children.map((c) => c.count()))).reduce((a, b) => a + b, 0),
    rebases: async () =>
      (await Promise.all(children.map((c) => c.rebases()))).reduce((a, b) => a + b, 0),
    latencies: async () => (await Promise.all(children.map((c) => c.latencies()))).flat(),
    close: async () => {
      await Promise.all(children.map((c) => c.close()))
    },
  }
}

interface FleetProcess extends Omit<DeviceFleet, 'pids' | 'connect'> {
  readonly pid: number
  connect(url: string, devices: FleetDevice[], index: number): Promise<void>
}

function fleetProcess(kind: FleetKind): FleetProcess {
  const child = fork(fileURLToPath(import.meta.url), ['--fleet', kind], {
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
  // A child that exits before it answers fails the bench instead of leaving it waiting.
  const next = (type: Answer['type']) =>
    new Promise<Answer>((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) =>
        reject(new Error(`device fleet: process ${child.pid} exited (${signal ?? code})`))
      const onMessage = (answer: Answer) => {
        if (answer.type !== type && answer.type !== 'error') return
        child.off('message', onMessage)
        child.off('exit', onExit)
        if (answer.type === 'error') reject(new Error(`device fleet: ${answer.message}`))
        else resolve(answer)
      }
      child.on('message', onMessage)
      child.once('exit', onExit)
    })
  const ask = (request: Request) => child.send(request)
  const counts = async () => {
    const answer = next('count')
    ask({ type: 'count' })
    return (await answer) as { count: number; rebases: number }
  }
  return {
    pid: child.pid ?? 0,
    async connect(url, devices, index) {
      const ready = next('ready')
      ask({ type: 'connect', url, devices, index })
      await ready
    },
    reset: () => ask({ type: 'reset' }),
    async count() {
      return (await counts()).count
    },
    async rebases() {
      return (await counts()).rebases
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

/** A connected device, whichever kind: what the fleet asks of it. */
interface Device {
  /** The newest seq taken of each large group followed (undefined: not followed yet). */
  seq(group: string): number | undefined
  close(): Promise<void>
}

/** The child: connects the devices, 100 at a time, and measures what they receive. */
function runFleet(kind: FleetKind): void {
  const devices: Device[] = []
  let latencies: number[] = []
  let rebases = 0
  const received = (sentAt: number, at = nowMs()) => {
    if (Number.isFinite(sentAt) && sentAt > 0) latencies.push(at - sentAt)
  }
  /** A message's body ends with its send time (timedBody). */
  const receivedBody = (body: string, at: number) =>
    received(Number(body.slice(body.lastIndexOf('@') + 1)), at)
  const onMessages = (messages: ClientMessage[]) => {
    const at = nowMs()
    for (const m of messages) receivedBody(m.body, at)
  }
  const open = async (url: string, token: string, deviceId: string): Promise<Device> => {
    if (kind === 'light') {
      const device = await lightDevice({ url, token, deviceId, onMessage: (at) => received(at) })
      return { seq: (group) => device.seqs.get(group), close: async () => device.close() }
    }
    const client = new ImflowClient({
      url,
      token,
      deviceId,
      deviceClass: 'DESKTOP',
      reconnect: { initialDelayMs: 500, maxDelayMs: 5_000 },
    })
    // Large groups' messages come as messages, a small group's in the PTS stream as events.
    client.on('messages', onMessages)
    client.on('events', (events) => {
      const at = nowMs()
      for (const { event } of events)
        if (event.payload.kind === 'NewMessage') receivedBody(event.payload.message.body, at)
    })
    client.on('rebase', () => rebases++)
    await client.connect()
    return { seq: (group) => client.seqs()[group], close: () => client.close() }
  }
  const answer = (a: Answer) => process.send?.(a)
  const connect = async (url: string, fleet: FleetDevice[], index: number) => {
    for (let i = 0; i < fleet.length; i += 100) {
      const opened = await Promise.all(
        fleet.slice(i, i + 100).map((d, k) => open(url, d.token, `bench-${index}-${i + k}`)),
      )
      devices.push(...opened)
    }
    // Ready once every device follows its group, if it has one (its heads frame arrived).
    const deadline = Date.now() + 600_000
    const following = (d: Device, group: string | undefined) =>
      group === undefined || d.seq(group) !== undefined
    while (devices.some((d, k) => !following(d, fleet[k]?.group))) {
      if (Date.now() > deadline) throw new Error('devices did not follow their groups in 600 s')
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  process.on('message', (request: Request) => {
    if (request.type === 'connect') {
      connect(request.url, request.devices, request.index).then(
        () => answer({ type: 'ready' }),
        (err) => answer({ type: 'error', message: String(err) }),
      )
    } else if (request.type === 'reset') {
      latencies = []
      rebases = 0
    } else if (request.type === 'count') {
      answer({ type: 'count', count: latencies.length, rebases })
    } else if (request.type === 'report') {
      answer({ type: 'report', latencies })
    } else {
      Promise.all(devices.map((d) => d.close().catch(() => {}))).then(() => process.exit(0))
    }
  })
}

const at = process.argv.indexOf('--fleet')
if (at >= 0) runFleet(process.argv[at + 1] === 'client' ? 'client' : 'light')
