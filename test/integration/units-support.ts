// Deployments of imflow side by side on the run's broker, each under its own topic prefix and
// with its own API port, started in order: units (IMFLOW_UNIT, each listing the others'
// topics and APIs), two geos acting from home (startGeos), or, through startDeployments, any
// other pairing.

import { afterAll, beforeAll, expect } from 'vitest'
import WebSocket from 'ws'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { freePort } from '../../ops/ports.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

export interface Deployments {
  apps: RunningApp[]
  /** Each one's API port, in the order of the prefixes. */
  ports: number[]
  /** Stops them all, the last started first. */
  stop(): Promise<void>
}

/** One app per prefix; `env(i, ports)` is deployment i's own settings (its port is set). */
export async function startDeployments(
  prefixes: readonly string[],
  env: (i: number, ports: readonly number[]) => Record<string, string>,
): Promise<Deployments> {
  const ports: number[] = []
  for (const _ of prefixes) ports.push(await freePort())
  const apps: RunningApp[] = []
  const stops: (() => Promise<void>)[] = []
  const stop = async () => {
    for (const s of stops.reverse()) await s()
    stops.length = 0
  }
  try {
    for (const [i, prefix] of prefixes.entries()) {
      const started = await startTestApp(prefix, { ...env(i, ports), IMFLOW_PORT: `${ports[i]}` })
      stops.push(started.stop)
      apps.push(started.app)
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { apps, ports, stop }
}

/**
 * Units 0..n-1 under the prefixes given, each listing every other one's topics
 * (IMFLOW_REMOTE_UNITS) and, unless `urls` is false, its API (IMFLOW_REMOTE_UNIT_URLS).
 */
export function startUnits(
  prefixes: readonly string[],
  common: Record<string, string> = {},
  { urls = true }: { urls?: boolean } = {},
): Promise<Deployments> {
  return startDeployments(prefixes, (me, ports) => {
    const others = (value: (u: number) => string) =>
      prefixes
        .map((_, u) => u)
        .filter((u) => u !== me)
        .map((u) => `${u}=${value(u)}`)
        .join(',')
    return {
      ...common,
      IMFLOW_UNIT: String(me),
      IMFLOW_REMOTE_UNITS: others((u) => prefixes[u] as string),
      ...(urls ? { IMFLOW_REMOTE_UNIT_URLS: others((u) => `http://127.0.0.1:${ports[u]}`) } : {}),
    }
  })
}

/**
 * Two geos, eu then us, each with its own app id (imflow-eu, imflow-us) and API, listing the
 * other's topics and API (acting from home); `extra` goes to both.
 */
export function startGeos(
  prefixes: readonly [string, string],
  extra: Record<string, string>,
): Promise<Deployments> {
  const names = ['eu', 'us'] as const
  return startDeployments(prefixes, (i, ports) => {
    const [me, other] = [names[i], names[1 - i]]
    return {
      ...extra,
      IMFLOW_APP_ID: `imflow-${me}`,
      IMFLOW_GEO: `${me}`,
      IMFLOW_REMOTE_GEOS: `${other}=${prefixes[1 - i]}:imflow-${other}`,
      IMFLOW_REMOTE_GEO_URLS: `${other}=http://127.0.0.1:${ports[1 - i]}`,
    }
  })
}

/** A phone of `user` on the app's push gateway, from PTS 0, with `bearer` as its token. */
export function deviceSocket(app: RunningApp, user: string, bearer: string): WebSocket {
  const url = `${app.url.replace(/^http/, 'ws')}/v1/ws?${new URLSearchParams({
    device: `${user}-phone`,
    lastPts: '0',
    class: 'MOBILE',
  })}`
  return new WebSocket(url, { headers: { authorization: `Bearer ${bearer}` } })
}

/**
 * One API request to `app` as the holder of `bearer`: its status and JSON body (`{}` when the
 * body is not JSON), typed as the caller expects it.
 */
export async function callJson<Body = Record<string, unknown>>(
  app: RunningApp,
  method: string,
  path: string,
  bearer: string,
  body?: object,
): Promise<{ status: number; body: Body }> {
  const res = await httpCall(app.url, method, path, bearer, body)
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Body }
}

/**
 * Sets `uid`'s home unit through `via` (as `admin`, a bearer token) and waits until every one of
 * `apps` has it in its replica: each routes the user's share by it.
 */
export async function setUserHome(
  apps: readonly RunningApp[],
  via: RunningApp,
  admin: string,
  uid: string,
  unit: string,
): Promise<void> {
  expect((await callJson(via, 'PUT', `/v1/users/${uid}`, admin, { unit })).status).toBe(202)
  for (const app of apps)
    await eventually(
      async () => {
        const res = await callJson(app, 'GET', `/v1/users/${uid}`, admin)
        return res.body.unit === unit ? true : undefined
      },
      { what: `unit ${unit} as ${uid}'s home in ${app.url}` },
    )
}

/** POST /v1/messages as the holder of `bearer`: a TEXT message whose body is its clientMsgId. */
export function postText<Body = Record<string, unknown>>(
  app: RunningApp,
  bearer: string,
  conversationId: string,
  id: string,
  extra: object = {},
): Promise<{ status: number; body: Body }> {
  return callJson<Body>(app, 'POST', '/v1/messages', bearer, {
    conversationId,
    clientMsgId: id,
    type: 'TEXT',
    body: id,
    ...extra,
  })
}

/**
 * The whole history of `conversationId` through `app` as the holder of `bearer`, newest first,
 * every page; undefined if a page is refused (the caller asks again).
 */
export async function wholeHistory<Message = { msgId: string }>(
  app: RunningApp,
  bearer: string,
  conversationId: string,
): Promise<Message[] | undefined> {
  const all: Message[] = []
  let before: string | undefined
  do {
    const query = new URLSearchParams({ limit: '200', ...(before ? { before } : {}) })
    const res = await callJson<{ messages?: Message[]; next?: string }>(
      app,
      'GET',
      `/v1/conversations/${conversationId}/messages?${query}`,
      bearer,
    )
    if (res.status !== 200) return undefined
    all.push(...(res.body.messages ?? []))
    before = res.body.next
  } while (before)
  return all
}

/**
 * One deployment of `count` units for every describe of a test file: started before the first
 * (the file's beforeAll), stopped after the last. Each describe takes its own users and
 * conversations (`ids`), so none sees another's; vitest runs a file's tests one after the other.
 */
export interface SharedUnits {
  /** Unit u's app (once started). */
  app(u: number): RunningApp
  /** Every unit's app, unit 0 first. */
  readonly apps: readonly RunningApp[]
  /** Unit u's topic prefix. */
  prefix(u: number): string
  /** A bearer token for `sub` signed with the units' secret (`role: 'admin'` for admin routes). */
  token(sub: string, role?: string): string
  /** The admin's bearer token. */
  readonly admin: string
}

/** The JWT secret of the units started by `shareUnits`. */
const SHARED_SECRET = 'units-shared-secret-0123456789abcdef'

/** Registers the file's beforeAll (start `count` units under fresh prefixes) and afterAll (stop). */
export function shareUnits(
  count: number,
  common: Record<string, string> = {},
  options: { urls?: boolean } = {},
): SharedUnits {
  const run = unique('units')
  const prefixes = Array.from({ length: count }, (_, u) => `${run}-${String.fromCharCode(97 + u)}.`)
  let deployments: Deployments | undefined
  // One unit after the other: three take longer than the hooks' default on two loaded cores.
  beforeAll(
    async () => {
      const env = { ...common, IMFLOW_JWT_SECRET: SHARED_SECRET }
      deployments = await startUnits(prefixes, env, options)
    },
    Math.max(180_000, 80_000 * count),
  )
  afterAll(async () => {
    await deployments?.stop()
  })
  const token = (sub: string, role?: string) =>
    issueToken({ sub, ...(role ? { role } : {}) }, SHARED_SECRET)
  const started = () => {
    if (!deployments) throw new Error('the units are not started (used outside a test)')
    return deployments.apps
  }
  return {
    app: (u) => started()[u] as RunningApp,
    get apps() {
      return started()
    },
    prefix: (u) => prefixes[u] as string,
    token,
    admin: token('root', 'admin'),
  }
}

/**
 * Fresh ids for one describe of a shared deployment: each name given, suffixed with a run tag
 * (`ids('act', 'ann', 'bob').ann` is ann-act-…). Users and conversations alike.
 */
export function ids<const Name extends string>(
  tag: string,
  ...names: Name[]
): Record<Name, string> {
  const run = unique(tag)
  return Object.fromEntries(names.map((n) => [n, `${n}-${run}`])) as Record<Name, string>
}

/**
 * POST /v1/messages as the holder of `bearer` until it is answered 200 (a unit whose stores are
 * still opening answers 503, one that has not heard of the group yet 422, as a client retries):
 * its msgId.
 */
export function acceptedText(
  app: RunningApp,
  bearer: string,
  conversationId: string,
  id: string,
  extra: object = {},
  wait: { timeoutMs?: number } = {},
): Promise<string> {
  return eventually(
    async () => {
      const res = await postText<{ msgId?: string }>(app, bearer, conversationId, id, extra)
      return res.status === 200 ? res.body.msgId : undefined
    },
    { what: `${id} to ${conversationId} accepted`, ...wait },
  )
}
