// The other geos' and units' topics this deployment forwards to: checked at start (each
// missing one is named, with how to create it) and then every few seconds. A missing topic
// is not fatal: the receiver parks what is meant for it (forward-or-park.ts) and sends it on
// once the topic is there; meanwhile /readyz names it and imflow_forward_* count it.

import type { Admin } from 'kafkajs'
import { topicName } from '../../schemas/topics.js'
import type { RemoteTargets } from '../../topologies/receiver/index.js'
import { internalTopic } from '../../topologies/runtime/index.js'
import { INBOUND } from '../../topologies/wiring.js'
import type { ProbeResult } from '../health.js'
import type { Logger } from '../log.js'
import type { ForwardCounts } from '../metrics.js'
import type { Config } from './config.js'

/** A topic of another deployment, and what to tell an operator when it is missing. */
export interface RemoteTopic {
  readonly topic: string
  /** "geo us", "unit 1". */
  readonly owner: string
  readonly fix: string
}

/** How often the remote topics are listed again after start. */
export const RECHECK_EVERY_MS = 2_000

const createWith = (prefix: string, appId: string) =>
  `start that deployment, or create its topics: KAFKA_BROKERS=<these brokers> IMFLOW_TOPIC_PREFIX=${prefix || '""'} IMFLOW_APP_ID=${appId} imflow topics`

/** Every topic the receiver forwards to: each remote geo's and unit's inbound and contract topics. */
export function remoteTopicsOf(
  config: Pick<Config, 'appId' | 'remoteGeos' | 'remoteUnits'>,
): RemoteTopic[] {
  const out: RemoteTopic[] = []
  for (const [geo, remote] of Object.entries(config.remoteGeos)) {
    const appId = remote.appId ?? config.appId
    const named = remote.appId
      ? ''
      : `If geo ${geo} runs with another IMFLOW_APP_ID, name it in IMFLOW_REMOTE_GEOS (${geo}=${remote.prefix}:<its app id>); else `
    out.push({
      topic: internalTopic(`${remote.prefix}${appId}`, INBOUND),
      owner: `geo ${geo}`,
      fix: `${named}${createWith(remote.prefix, appId)}`,
    })
    // Acting from home: its users' writes to conversations homed here, and their receipts;
    // the large groups homed here, for its gateways to push to its users' devices.
    for (const base of ['im.ingest', 'im.actions', 'im.receipts', 'im.rooms'] as const) {
      out.push({
        topic: topicName(remote.prefix, base),
        owner: `geo ${geo}`,
        fix: `check IMFLOW_REMOTE_GEOS (${geo}=<its IMFLOW_TOPIC_PREFIX>); ${createWith(remote.prefix, appId)}`,
      })
    }
  }
  for (const [unit, prefix] of Object.entries(config.remoteUnits)) {
    // Users homed there get their share on its inbound (under this app id) and rooms.
    out.push({
      topic: internalTopic(`${prefix}${config.appId}`, INBOUND),
      owner: `unit ${unit}`,
      fix: `units share an IMFLOW_APP_ID; ${createWith(prefix, config.appId)}`,
    })
    for (const base of [
      'im.ingest',
      'im.conversations',
      'im.actions',
      'im.receipts',
      'im.rooms',
    ] as const) {
      out.push({
        topic: topicName(prefix, base),
        owner: `unit ${unit}`,
        fix: `check IMFLOW_REMOTE_UNITS (${unit}=<its IMFLOW_TOPIC_PREFIX>); ${createWith(prefix, config.appId)}`,
      })
    }
  }
  return out
}

export class RemoteTargetWatch implements RemoteTargets {
  private missing = new Set<string>()
  private readonly parkedBy = new Map<string, number>()
  private readonly unparkedBy = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined

  private constructor(
    private readonly admin: Admin,
    private readonly topics: readonly RemoteTopic[],
    private readonly log: Logger,
  ) {}

  /** Lists the topics once (a failure to list is retried by the next check), then keeps watching. */
  static async start(
    admin: Admin,
    topics: readonly RemoteTopic[],
    log: Logger,
    recheckMs = RECHECK_EVERY_MS,
  ): Promise<RemoteTargetWatch> {
    const watch = new RemoteTargetWatch(admin, topics, log)
    if (topics.length === 0) return watch
    await watch.check()
    watch.timer = setInterval(() => void watch.check(), recheckMs)
    watch.timer.unref()
    return watch
  }

  async check(): Promise<void> {
    let existing: Set<string>
    try {
      existing = new Set(await this.admin.listTopics())
    } catch (err) {
      // The cluster did not answer: the kafka probe reports that; keep what was known.
      this.log.debug('listing remote topics failed', { err: String(err) })
      return
    }
    const missing = new Set(this.topics.filter((t) => !existing.has(t.topic)).map((t) => t.topic))
    for (const t of this.topics) {
      if (missing.has(t.topic) && !this.missing.has(t.topic)) {
        this.log.warn(
          `topic ${t.topic} of ${t.owner} does not exist: what is forwarded there waits in this deployment until it does. To fix: ${t.fix}`,
          { topic: t.topic },
        )
      } else if (!missing.has(t.topic) && this.missing.has(t.topic)) {
        this.log.info(`topic ${t.topic} of ${t.owner} exists now: forwarding resumes`)
      }
    }
    this.missing = missing
  }

  isUp(topic: string): boolean {
    return !this.missing.has(topic)
  }

  parked(topic: string, n: number): void {
    this.parkedBy.set(topic, (this.parkedBy.get(topic) ?? 0) + n)
  }

  unparked(topic: string, n: number): void {
    this.unparkedBy.set(topic, (this.unparkedBy.get(topic) ?? 0) + n)
  }

  /** /readyz: not ready while a forwarding target is missing, naming each and its fix. */
  probe(): ProbeResult {
    const down = this.topics.filter((t) => this.missing.has(t.topic))
    if (down.length === 0) return { ok: true }
    return {
      ok: false,
      detail: down
        .map((t) => `${t.topic} (${t.owner}) is missing; forwarded records wait. ${t.fix}`)
        .join('; '),
    }
  }

  counts(): ForwardCounts {
    return {
      up: Object.fromEntries(this.topics.map((t) => [t.topic, !this.missing.has(t.topic)])),
      parked: Object.fromEntries(this.parkedBy),
      unparked: Object.fromEntries(this.unparkedBy),
    }
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
