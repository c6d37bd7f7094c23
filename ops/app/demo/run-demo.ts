// `imflow demo`: creates a population of conversations over the admin API, brings a fleet of
// devices online, then sends at the asked rate, the seeds' way (plan.ts), through the HTTP
// API, while the screen shows what flows. Works against any imflow whose JWT secret it has.

import { random } from '../../../bench/workload.js'
import { present } from '../../../connectors/http/dashboard/metric-names.js'
import { parseMetrics, total } from '../../../connectors/http/dashboard/metrics-text.js'
import { ImflowError } from '../../errors.js'
import { mintToken } from '../commands/token.js'
import { DeviceFleet } from './devices.js'
import { type DemoConversation, planDemo } from './plan.js'
import { display, type Frame, finalReport, type ServerFigures } from './screen.js'
import { DemoSender } from './sender.js'
import { DemoStats } from './stats.js'

export interface DemoOptions {
  url: string
  jwtSecret: string
  users: number
  /** Messages per second. */
  rate: number
  durationSeconds: number
  devices: number
  seed?: number
  /** Where the screen goes; `tty`: redraw it in place, else a line every few seconds. */
  write(text: string): void
  tty: boolean
  signal?: AbortSignal
}

export interface DemoResult {
  stats: DemoStats
  kinds: Record<string, number>
  report: string[]
}

const MAX_IN_FLIGHT = 256
const CHURN_PER_SECOND = 0.02
const READ_SHARE = 0.3

/** Waits `ms`, or less when the signal aborts. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const t = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })

async function post(url: string, token: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

/** A starting app restores its stores before it is ready: waited for this long, with a word. */
const READY_WAIT_MS = 120_000

async function waitUntilReady(url: string, o: DemoOptions): Promise<void> {
  const deadline = Date.now() + READY_WAIT_MS
  let told = false
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch((err) => {
      throw new ImflowError(
        'IMF_ERR_API_UNAVAILABLE',
        `no imflow answers at ${url} (${String(err.cause ?? err)}): start one (npm start) or pass --url`,
      )
    })
    if (res.ok) return
    const why = (await res.text().catch(() => '')).slice(0, 300)
    if (Date.now() >= deadline || o.signal?.aborted)
      throw new ImflowError(
        'IMF_ERR_API_UNAVAILABLE',
        `${url}/readyz still answered ${res.status} after ${READY_WAIT_MS / 1000} s: ${why}`,
      )
    if (!told) o.write(`waiting for imflow at ${url} to be ready (/readyz: ${res.status})…\n`)
    told = true
    await sleep(500, o.signal)
  }
}

/** Reads the figures the server reports that the demo cannot count itself. */
async function serverFigures(url: string, before: ReturnType<typeof parseMetrics> | undefined) {
  const text = await fetch(`${url}/metrics`).then(
    (r) => (r.ok ? r.text() : ''),
    () => '',
  )
  const now = parseMetrics(text)
  const figures: ServerFigures = { lag: total(now, present.lag) }
  const mergeIn = total(now, present.mergeIn)
  const mergeOut = total(now, present.mergeOut)
  if (mergeIn) figures.mergeReduction = 1 - (mergeOut ?? 0) / mergeIn
  const throttled = total(now, present.throttled)
  if (throttled !== undefined && before) {
    figures.throttledPerSec = throttled - (total(before, present.throttled) ?? 0)
  }
  return { figures, samples: now }
}

/** Each user's token, minted once. */
function tokenCache(secret: string, ttlSeconds: number) {
  const tokens = new Map<string, string>()
  return (sub: string, admin = false) => {
    const key = admin ? `${sub}#admin` : sub
    const t = tokens.get(key) ?? mintToken({ sub, admin, ttlSeconds }, secret)
    tokens.set(key, t)
    return t
  }
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const url = o.url.replace(/\/+$/, '')
  await waitUntilReady(url, o)
  const run = `demo-${Date.now().toString(36)}-`
  const plan = planDemo({ users: o.users, seed: o.seed, prefix: run })
  const token = tokenCache(o.jwtSecret, o.durationSeconds + 3_600)
  await createConversations(url, plan.conversations, token(`${run}admin`, true), o)
  const stats = new DemoStats()
  const sender = new DemoSender(url, token, stats)
  const rng = random((o.seed ?? 7) + 1)
  const fleet = new DeviceFleet({
    url,
    token,
    users: plan.users,
    size: o.devices,
    readShare: READ_SHARE,
    stats,
    sentAt: sender.sentAt,
    rng,
  })
  o.write(`bringing ${Math.min(o.devices, o.users)} devices online…\n`)
  await fleet.start()
  let metrics: ReturnType<typeof parseMetrics> | undefined
  let server: ServerFigures = {}
  const show = display(o.write, o.tty)
  const frame = (): Frame => ({
    url,
    stats,
    recent: stats.takeWindow(),
    devices: fleet.count,
    rate: o.rate,
    durationSeconds: o.durationSeconds,
    server,
  })
  await sendFor(
    o,
    (i) => sender.send(`${run}m${i}`, plan.next()),
    sender,
    stats,
    () => {
      // Not awaited: a slow /metrics must not hold the sending back.
      void serverFigures(url, metrics).then((r) => {
        server = r.figures
        metrics = r.samples
      })
      show(frame())
      void fleet.flushReads()
      void fleet.churn(CHURN_PER_SECOND)
      sender.forget(120_000)
    },
  )
  await drain(sender, stats)
  await fleet.flushReads()
  const last = frame()
  show(last)
  await fleet.stop()
  const report = finalReport(last, sender.kinds)
  o.write(`${report.join('\n')}\n`)
  return { stats, kinds: sender.kinds, report }
}

/** Sends at the asked rate for the asked time (or until aborted), calling `everySecond`. */
async function sendFor(
  o: DemoOptions,
  send: (i: number) => Promise<void>,
  sender: DemoSender,
  stats: DemoStats,
  everySecond: () => void,
): Promise<void> {
  stats.startSending()
  const start = Date.now()
  const end = start + o.durationSeconds * 1000
  let i = 0
  let nextSecond = start + 1000
  while (Date.now() < end && !o.signal?.aborted) {
    const due = Math.floor(((Date.now() - start) / 1000) * o.rate)
    for (; i < due; i++) {
      if (sender.inFlight >= MAX_IN_FLIGHT) stats.skipped++
      else void send(i)
    }
    if (Date.now() >= nextSecond) {
      nextSecond += 1000
      everySecond()
    }
    await sleep(10, o.signal)
  }
  stats.stopSending()
}

/** Lets what is on its way arrive: the receipts (15 s at most), then the pushes. */
async function drain(sender: DemoSender, stats: DemoStats): Promise<void> {
  const until = Date.now() + 15_000
  while (sender.inFlight > 0 && Date.now() < until) await sleep(50)
  // Pushes trail the receipts: wait until none has arrived for 5 s (30 s at most).
  for (let quiet = 0, end = Date.now() + 30_000; quiet < 5 && Date.now() < end; ) {
    const before = stats.delivered
    await sleep(1_000)
    quiet = stats.delivered === before ? quiet + 1 : 0
  }
}

async function createConversations(
  url: string,
  conversations: DemoConversation[],
  admin: string,
  o: DemoOptions,
): Promise<void> {
  o.write(`creating ${conversations.length} conversations (${o.users} users)…\n`)
  const queue = [...conversations]
  let created = 0
  const worker = async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      if (o.tty && ++created % 50 === 0) o.write(`  ${created}/${conversations.length}\r`)
      const res = await post(`${url}/v1/conversations`, admin, {
        conversationId: c.id,
        type: c.kind === 'dm' ? 'SINGLE' : 'GROUP',
        members: c.members,
      })
      if (res.status === 401 || res.status === 403) {
        throw new ImflowError(
          'IMF_ERR_UNAUTHORIZED',
          `${url} refused the demo's admin token (${res.status}): give the demo the IMFLOW_JWT_SECRET the server runs with`,
        )
      }
      if (!res.ok)
        throw new ImflowError(
          'IMF_ERR_API_UNAVAILABLE',
          `creating ${c.id}: ${res.status} ${await res.text()}`,
        )
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  // The receiver applies conversations asynchronously, partition by partition: wait until the
  // last few created (spread over the partitions by their ids) each take a message.
  await Promise.all(conversations.slice(-8).map((c) => probe(url, c, o)))
}

async function probe(url: string, c: DemoConversation, o: DemoOptions): Promise<void> {
  const sender = c.members[0] as string
  const token = mintToken({ sub: sender, ttlSeconds: 600 }, o.jwtSecret)
  const deadline = Date.now() + 60_000
  for (let i = 0; Date.now() < deadline && !o.signal?.aborted; i++) {
    const res = await post(`${url}/v1/messages`, token, {
      conversationId: c.id,
      clientMsgId: `probe-${i}`,
      type: 'TEXT',
      body: 'hello',
    })
    if (res.ok) return
    await sleep(250, o.signal)
  }
}
