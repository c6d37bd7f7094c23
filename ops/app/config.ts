// imflow's configuration: read once from the environment and the command line, validated
// in one place, then frozen. A bad setting fails here, at start, with the name of the
// setting and what would fix it — never later, deep inside a topology.

import { availableParallelism, hostname } from 'node:os'
import { resolve } from 'node:path'
import { DEFAULT_LARGE_GROUP_THRESHOLD } from '../../topologies/model/index.js'
import { type DeviceClass, defaultSyncSettings } from '../../topologies/sync/index.js'
import { ImflowError } from '../errors.js'
import { type LogLevel, logLevels } from '../log.js'

export interface Config {
  /** Kafka bootstrap servers; undefined means: start the embedded broker. */
  readonly kafkaBrokers: readonly string[] | undefined
  /** Confluent-compatible registry base URL; undefined means: start the embedded one. */
  readonly schemaRegistryUrl: string | undefined
  readonly apiHost: string
  readonly apiPort: number
  /** The API's base URL as other instances reach it (they read this instance's stores there). */
  readonly advertisedUrl: string
  readonly embeddedKafkaPort: number
  readonly embeddedRegistryPort: number
  readonly dataDir: string
  readonly appId: string
  readonly topicPrefix: string
  readonly partitions: number
  readonly replicationFactor: number
  /** A task's transaction spans slices for this long (0: one transaction per slice). */
  readonly commitIntervalMs: number | undefined
  readonly transactionPaceMs: number
  /** Each state store's record cache, in bytes: unsent writes merge per key until then. */
  readonly cacheMaxBytes: number
  /** What one transaction covers: a task (input partition) or all of a stream thread's tasks. */
  readonly transactionScope: 'task' | 'thread'
  /** Processes `imflow start` runs the topologies in (tasks spread over them). */
  readonly streamThreads: number
  /** Whether this instance serves devices' WebSockets (the push gateway). */
  readonly gateway: boolean
  readonly kafkaHeap: string
  readonly registryHeap: string
  readonly javaHome: string | undefined
  readonly logLevel: LogLevel
  /** This deployment's unit (cell), 0-31: part of every message id. */
  readonly unit: number
  readonly maxBodyBytes: number
  /** HS256 secret of the API's bearer tokens; undefined: a random one per process. */
  readonly jwtSecret: string | undefined
  readonly requestTimeoutMs: number
  /** Past this many requests in flight the API sheds load (503); 0: no bound. */
  readonly maxInFlight: number
  /** An event-loop stall longer than this (ms) makes the API shed load (503); 0: no bound. */
  readonly maxEventLoopLagMs: number
  readonly largeGroupThreshold: number
  /** This deployment's geo. */
  readonly geo: string
  /** Other geos' deployments on this cluster: geo -> their topic prefix and app id. */
  readonly remoteGeos: Readonly<Record<string, RemoteDeployment>>
  /** Other geos' APIs (geo -> base URL): reads of conversations homed there are answered there. */
  readonly remoteGeoUrls: Readonly<Record<string, string>>
  /** Remote unit -> its API's base URL: history of conversations homed there is read there. */
  readonly remoteUnitUrls: Readonly<Record<string, string>>
  /** Other units' deployments on this cluster: unit number (as text) -> their topic prefix. */
  readonly remoteUnits: Readonly<Record<string, string>>
  /** Hot senders whose own copy of their messages is not handed off. */
  readonly systemAccounts: readonly string[]
  /** A device further behind than this many events gets a Rebase. */
  readonly syncRebaseThreshold: number
  /** Events kept per user in the sync queue. */
  readonly syncRetention: number
  /** Events per sync envelope, by device class. */
  readonly syncBatchSizes: Readonly<Record<DeviceClass, number>>
  readonly syncPackDelayMs: number
  readonly syncAckTimeoutMs: number
  readonly notifyWindowMs: number
  /** Merge windows of read receipts and reactions: large groups (above largeGroupThreshold). */
  readonly mergeWindowLargeMs: number
  /** Merge windows of small groups and 1:1: short, so read ticks feel instant. */
  readonly mergeWindowSmallMs: number
  /** How long a merge window stays open past its end for records that arrive late. */
  readonly mergeWindowGraceMs: number
  /** Messages/s one receiver task (partition) delivers before smart throttling starts. */
  readonly shapingCapacity: number
  /** 0: the capacity is fixed; otherwise it adapts to keep the ingest latency near this (ms). */
  readonly shapingTargetLatencyMs: number
  /** A LOW message is delivered at most this long after it was accepted. */
  readonly lowDeadlineMs: number
  /** Most LOW messages one receiver task keeps waiting. */
  readonly lowQueueMax: number
  /** Default rate limits per key of each dimension (null: unlimited). */
  readonly limitConversation: RateLimitSetting
  readonly limitUser: RateLimitSetting
  readonly limitClientType: RateLimitSetting
  readonly limitApplication: RateLimitSetting
}

/**
 * Another deployment on this cluster: its topics are named after its prefix and, for the
 * internal ones (a geo's inbound), its app id. No app id given: the same as this one's.
 */
export interface RemoteDeployment {
  readonly prefix: string
  readonly appId?: string
}

/** A token bucket's refill rate (per second) and size; null: no limit. */
export type RateLimitSetting = { rate: number; burst: number } | null

// Sync's defaults are sync's own (defaultSyncSettings); the settings here only override them.
const syncDefaults = defaultSyncSettings
const defaultBatchSizes = syncDefaults.batchSizes
const deviceClasses = Object.keys(defaultBatchSizes) as DeviceClass[]

type Parse<T> = (raw: string) => T

interface Setting<K extends keyof Config> {
  key: K
  env: string
  flag: string
  doc: string
  /** Text shown as the default in --help and the README. */
  shownDefault: string
  /** `parsed`: the settings before this one in the catalogue, for defaults derived from them. */
  fallback: (env: Env, parsed: Partial<Config>) => Config[K]
  parse: Parse<Config[K]>
}

type Env = Readonly<Record<string, string | undefined>>

/** Thrown by parsers; settingError() adds the setting's name and source. */
class BadValue extends Error {}

function port(raw: string): number {
  const n = integer(raw)
  if (n < 1 || n > 65535) throw new BadValue('expected a TCP port between 1 and 65535')
  return n
}

function integer(raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new BadValue('expected a whole number')
  return Number(raw.trim())
}

function positive(raw: string): number {
  const n = integer(raw)
  if (n < 1) throw new BadValue('expected a number of at least 1')
  return n
}

function onOff(raw: string): boolean {
  const v = raw.trim().toLowerCase()
  if (v === 'on' || v === 'true' || v === '1') return true
  if (v === 'off' || v === 'false' || v === '0') return false
  throw new BadValue('expected on or off')
}

function transactionScope(raw: string): 'task' | 'thread' {
  const v = raw.trim().toLowerCase()
  if (v === 'task' || v === 'thread') return v
  throw new BadValue('expected task or thread')
}

/** Stream threads: a process each, so a few per core at most. */
function threads(raw: string): number {
  const n = positive(raw)
  if (n > 64) throw new BadValue('expected at most 64')
  return n
}

/** The non-empty items of a comma-separated value, trimmed. */
function commaList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

function brokers(raw: string): string[] {
  const list = commaList(raw)
  if (list.length === 0) throw new BadValue('expected host:port[,host:port...]')
  for (const b of list) {
    const m = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(b)
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new BadValue(`"${b}" is not host:port (for example 127.0.0.1:9092)`)
    }
  }
  return list
}

function httpUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    throw new BadValue('expected an http(s) URL, for example http://127.0.0.1:8081')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BadValue(`expected http or https, got ${url.protocol}`)
  }
  return url.toString().replace(/\/$/, '')
}

/** Wildcard listen addresses are no address to call: the host's name is, more likely. */
function defaultAdvertisedUrl(host = '127.0.0.1', port = 8080): string {
  const callable = host === '0.0.0.0' || host === '::' ? hostname() : host
  return `http://${callable.includes(':') ? `[${callable}]` : callable}:${port}`
}

function heap(raw: string): string {
  if (!/^\d+[mMgG]$/.test(raw.trim()))
    throw new BadValue('expected a JVM heap size like 512m or 1g')
  return raw.trim()
}

function name(raw: string): string {
  if (!/^[a-zA-Z0-9._-]+$/.test(raw)) {
    throw new BadValue('expected letters, digits, ".", "_" or "-" (a Kafka-safe name)')
  }
  return raw
}

function prefix(raw: string): string {
  if (raw === '') return raw
  return name(raw)
}

function logLevel(raw: string): LogLevel {
  const level = logLevels.find((l) => l === raw.trim().toLowerCase())
  if (!level) throw new BadValue(`expected one of ${logLevels.join(', ')}`)
  return level
}

const text: Parse<string> = (raw) => {
  if (raw.trim() === '') throw new BadValue('expected a non-empty value')
  return raw.trim()
}

/** "rate/burst" (messages/s and the most at once), e.g. "20/40"; "off" for no limit. */
function rateLimit(raw: string): RateLimitSetting {
  if (raw.trim().toLowerCase() === 'off') return null
  const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(raw.trim())
  if (!m || !(Number(m[1]) > 0) || Number(m[2]) < 1)
    throw new BadValue('expected rate/burst like 20/40 (rate above 0, burst at least 1), or off')
  return { rate: Number(m[1]), burst: Number(m[2]) }
}

function limitSetting<K extends keyof Config>(
  key: K,
  env: string,
  flag: string,
  what: string,
): Setting<K> {
  return {
    key,
    env,
    flag,
    doc: `Rate limit of each ${what}, as rate/burst (messages/s, most at once) or off; per receiver task (docs/shaping.md). Changed at run time with PUT /v1/limits.`,
    shownDefault: 'off',
    fallback: () => null as Config[K],
    parse: rateLimit as Parse<Config[K]>,
  }
}

function setting<K extends keyof Config>(s: Setting<K>): Setting<K> {
  return s
}

/** The catalogue of settings, in the order --help and the README show them. */
export const settings = [
  setting({
    key: 'kafkaBrokers',
    env: 'KAFKA_BROKERS',
    flag: 'brokers',
    doc: 'Kafka bootstrap servers, comma-separated. Unset: an embedded single-node broker is started.',
    shownDefault: '(embedded)',
    fallback: () => undefined,
    parse: brokers,
  }),
  setting({
    key: 'schemaRegistryUrl',
    env: 'SCHEMA_REGISTRY_URL',
    flag: 'registry',
    doc: 'Confluent-compatible schema registry base URL. Unset: an embedded Apicurio Registry is started.',
    shownDefault: '(embedded)',
    fallback: () => undefined,
    parse: httpUrl,
  }),
  setting({
    key: 'apiHost',
    env: 'IMFLOW_HOST',
    flag: 'host',
    doc: 'Address the HTTP API listens on.',
    shownDefault: '127.0.0.1',
    fallback: () => '127.0.0.1',
    parse: text,
  }),
  setting({
    key: 'apiPort',
    env: 'IMFLOW_PORT',
    flag: 'port',
    doc: 'Port of the HTTP API.',
    shownDefault: '8080',
    fallback: () => 8080,
    parse: port,
  }),
  setting({
    key: 'advertisedUrl',
    env: 'IMFLOW_ADVERTISED_URL',
    flag: 'advertised-url',
    doc: "The API's base URL as other instances reach it: they read the partitions this instance owns there. Set it when IMFLOW_HOST is 0.0.0.0 or behind NAT.",
    shownDefault: 'http://<IMFLOW_HOST>:<IMFLOW_PORT>',
    fallback: (_env, { apiHost, apiPort }) => defaultAdvertisedUrl(apiHost, apiPort),
    parse: httpUrl,
  }),
  setting({
    key: 'embeddedKafkaPort',
    env: 'IMFLOW_KAFKA_PORT',
    flag: 'kafka-port',
    doc: 'Port of the embedded broker (its controller uses a free port of its own).',
    shownDefault: '9092',
    fallback: () => 9092,
    parse: port,
  }),
  setting({
    key: 'embeddedRegistryPort',
    env: 'IMFLOW_REGISTRY_PORT',
    flag: 'registry-port',
    doc: 'Port of the embedded schema registry.',
    shownDefault: '8081',
    fallback: () => 8081,
    parse: port,
  }),
  setting({
    key: 'dataDir',
    env: 'IMFLOW_DATA_DIR',
    flag: 'data-dir',
    doc: 'Where the embedded servers and the state stores keep their data.',
    shownDefault: '.imflow/data',
    fallback: () => resolve('.imflow/data'),
    parse: (raw) => resolve(text(raw)),
  }),
  setting({
    key: 'appId',
    env: 'IMFLOW_APP_ID',
    flag: 'app-id',
    doc: 'Application id: consumer groups and internal topics are named after it; instances with the same id share the work.',
    shownDefault: 'imflow',
    fallback: () => 'imflow',
    parse: name,
  }),
  setting({
    key: 'topicPrefix',
    env: 'IMFLOW_TOPIC_PREFIX',
    flag: 'topic-prefix',
    doc: 'Prefix of every topic name (e.g. "eu." gives eu.im.ingest); lets geos and tests share a cluster.',
    shownDefault: '(none)',
    fallback: () => '',
    parse: prefix,
  }),
  setting({
    key: 'partitions',
    env: 'IMFLOW_PARTITIONS',
    flag: 'partitions',
    doc: 'Partitions of each contract topic. Co-partitioned topics must agree, so choose once.',
    shownDefault: '6',
    fallback: () => 6,
    parse: positive,
  }),
  setting({
    key: 'replicationFactor',
    env: 'IMFLOW_REPLICATION',
    flag: 'replication',
    doc: 'Replication factor of the topics imflow creates. Must be 1 with the embedded broker.',
    shownDefault: '1',
    fallback: () => 1,
    parse: positive,
  }),
  setting({
    key: 'commitIntervalMs',
    env: 'IMFLOW_COMMIT_INTERVAL_MS',
    flag: 'commit-interval-ms',
    doc: "A task commits its transaction when this long has passed, its consumer fetching ahead meanwhile; 0 commits every slice of up to 1,000 records. Larger: fewer commits, outputs visible later. Unset: each topology its own (0 for all of imflow's: pushes wait on them).",
    shownDefault: '(per topology)',
    fallback: () => undefined,
    parse: integer,
  }),
  setting({
    key: 'transactionPaceMs',
    env: 'IMFLOW_TRANSACTION_PACE_MS',
    flag: 'transaction-pace-ms',
    doc: 'Topologies no push waits on (inbox, merge-index) begin a transaction at most this often, so their records go in fewer, larger ones (the broker pays per transaction); their state is seen up to this much later. 0: as soon as records come.',
    shownDefault: '100',
    fallback: () => 100,
    parse: integer,
  }),
  setting({
    key: 'cacheMaxBytes',
    env: 'IMFLOW_CACHE_MAX_BYTES',
    flag: 'cache-max-bytes',
    doc: "Each state store's record cache: a key's updates between commits reach the changelog once, until the store's unsent writes outgrow this; 0 logs every update.",
    shownDefault: '10485760',
    fallback: () => 10 * 1024 * 1024,
    parse: integer,
  }),
  setting({
    key: 'transactionScope',
    env: 'IMFLOW_TRANSACTION_SCOPE',
    flag: 'transaction-scope',
    doc: "What one transaction covers: `task`, a transactional producer per input partition; `thread`, one per topology runner for all its tasks, fenced by the consumer group's generation (KIP-447; needs Kafka 2.5+), so one commit covers every task's outputs, changelogs and offsets.",
    shownDefault: 'thread',
    fallback: () => 'thread' as const,
    parse: transactionScope,
  }),
  setting({
    key: 'streamThreads',
    env: 'IMFLOW_STREAM_THREADS',
    flag: 'stream-threads',
    doc: "Processes `imflow start` runs the topologies in: their tasks spread over them, each process with its own consumers, producers and stores; the API and the push gateway run in the first. Default: the machine's cores with a configured Kafka, 1 with the embedded broker (it needs the cores).",
    shownDefault: 'cores (1 embedded)',
    fallback: (_env, { kafkaBrokers }) => (kafkaBrokers ? Math.min(64, availableParallelism()) : 1),
    parse: threads,
  }),
  setting({
    key: 'gateway',
    env: 'IMFLOW_GATEWAY',
    flag: 'gateway',
    doc: "Whether this instance serves devices' WebSockets (/v1/ws): off for an instance that only processes (stream threads after the first are).",
    shownDefault: 'on',
    fallback: () => true,
    parse: onOff,
  }),
  setting({
    key: 'kafkaHeap',
    env: 'IMFLOW_KAFKA_HEAP',
    flag: 'kafka-heap',
    doc: 'Maximum heap of the embedded broker JVM.',
    shownDefault: '512m',
    fallback: () => '512m',
    parse: heap,
  }),
  setting({
    key: 'registryHeap',
    env: 'IMFLOW_REGISTRY_HEAP',
    flag: 'registry-heap',
    doc: 'Maximum heap of the embedded registry JVM.',
    shownDefault: '384m',
    fallback: () => '384m',
    parse: heap,
  }),
  setting({
    key: 'javaHome',
    env: 'IMFLOW_JAVA_HOME',
    flag: 'java-home',
    doc: 'Java for the embedded servers (Kafka needs 17+, Apicurio Registry 21+). Unset: JAVA_HOME, PATH and /usr/lib/jvm are searched.',
    shownDefault: '(search)',
    fallback: () => undefined,
    parse: (raw) => resolve(text(raw)),
  }),
  setting({
    key: 'logLevel',
    env: 'IMFLOW_LOG_LEVEL',
    flag: 'log-level',
    doc: 'Log level: debug, info, warn or error.',
    shownDefault: 'info',
    fallback: () => 'info',
    parse: logLevel,
  }),
  setting({
    key: 'unit',
    env: 'IMFLOW_UNIT',
    flag: 'unit',
    doc: "This deployment's unit (cell) number, 0-31; part of every message id, so units never collide.",
    shownDefault: '0',
    fallback: () => 0,
    parse: (raw) => {
      const n = integer(raw)
      if (n > 31) throw new BadValue('expected a unit number from 0 to 31')
      return n
    },
  }),
  setting({
    key: 'maxBodyBytes',
    env: 'IMFLOW_MAX_BODY_BYTES',
    flag: 'max-body-bytes',
    doc: 'Largest message body accepted, in UTF-8 bytes; larger ones are rejected with TOO_LARGE.',
    shownDefault: '65536',
    fallback: () => 65_536,
    parse: positive,
  }),
  setting({
    key: 'jwtSecret',
    env: 'IMFLOW_JWT_SECRET',
    flag: 'jwt-secret',
    doc: 'HS256 secret of the API bearer tokens (sub = user id; role "admin" for admin routes). Unset: a random secret, so no token is valid.',
    shownDefault: '(random)',
    fallback: () => undefined,
    parse: (raw) => {
      if (raw.length < 16) throw new BadValue('expected at least 16 characters')
      return raw
    },
  }),
  setting({
    key: 'requestTimeoutMs',
    env: 'IMFLOW_REQUEST_TIMEOUT_MS',
    flag: 'request-timeout-ms',
    doc: 'How long POST /v1/messages waits for its receipt before answering 504.',
    shownDefault: '10000',
    fallback: () => 10_000,
    parse: positive,
  }),
  setting({
    key: 'maxInFlight',
    env: 'IMFLOW_MAX_IN_FLIGHT',
    flag: 'max-in-flight',
    doc: 'Requests the API holds in flight at most; past it new ones get 503 IMF_ERR_OVERLOADED with Retry-After, and /readyz answers 503. 0: no bound.',
    shownDefault: '5000',
    fallback: () => 5_000,
    parse: integer,
  }),
  setting({
    key: 'maxEventLoopLagMs',
    env: 'IMFLOW_MAX_EVENT_LOOP_LAG_MS',
    flag: 'max-event-loop-lag-ms',
    doc: 'When the event loop stalled longer than this within the last two seconds, the API sheds load: 503 IMF_ERR_OVERLOADED with Retry-After, and /readyz answers 503. 0: no bound.',
    shownDefault: '2000',
    fallback: () => 2_000,
    parse: integer,
  }),
  setting({
    key: 'largeGroupThreshold',
    env: 'IMFLOW_LARGE_GROUP_THRESHOLD',
    flag: 'large-group-threshold',
    doc: 'Groups with more members than this are large: no per-member writes at send time (conversation lists computed when read), messages sequenced per conversation and pushed to online devices only.',
    shownDefault: String(DEFAULT_LARGE_GROUP_THRESHOLD),
    fallback: () => DEFAULT_LARGE_GROUP_THRESHOLD,
    parse: positive,
  }),
  setting({
    key: 'geo',
    env: 'IMFLOW_GEO',
    flag: 'geo',
    doc: "This deployment's geo. Users whose home geo (PUT /v1/users/:uid) is another one get their messages there.",
    shownDefault: 'local',
    fallback: () => 'local',
    parse: name,
  }),
  setting({
    key: 'remoteGeos',
    env: 'IMFLOW_REMOTE_GEOS',
    flag: 'remote-geos',
    doc: "Other geos' deployments as geo=prefix or geo=prefix:appid, e.g. \"us=us.:imflow-us,ap=ap.\": their users' share of each message is forwarded to <prefix><appid>-inbound (app id: this one's unless given).",
    shownDefault: '(none)',
    fallback: () => ({}),
    parse: (raw) => {
      const geos: Record<string, RemoteDeployment> = {}
      for (const pair of commaList(raw)) {
        const m = /^([a-zA-Z0-9._-]+)=([a-zA-Z0-9._-]*)(?::([a-zA-Z0-9._-]+))?$/.exec(pair)
        if (!m?.[1])
          throw new BadValue(
            `"${pair}" is not geo=prefix or geo=prefix:appid (for example us=us. or us=us.:imflow-us)`,
          )
        geos[m[1]] = { prefix: m[2] ?? '', ...(m[3] ? { appId: m[3] } : {}) }
      }
      return geos
    },
  }),
  setting({
    key: 'remoteGeoUrls',
    env: 'IMFLOW_REMOTE_GEO_URLS',
    flag: 'remote-geo-urls',
    doc: 'The API of each geo in IMFLOW_REMOTE_GEOS, e.g. "us=https://us.api.example:8080": users homed here act on conversations homed there through this API (history is read there; tokens must be valid in both).',
    shownDefault: '(none)',
    fallback: () => ({}),
    parse: (raw) => {
      const urls: Record<string, string> = {}
      for (const pair of commaList(raw)) {
        const at = pair.indexOf('=')
        if (at < 1)
          throw new BadValue(`"${pair}" is not geo=url (for example us=http://10.0.0.2:8080)`)
        urls[pair.slice(0, at).trim()] = httpUrl(pair.slice(at + 1))
      }
      return urls
    },
  }),
  setting({
    key: 'remoteUnits',
    env: 'IMFLOW_REMOTE_UNITS',
    flag: 'remote-units',
    doc: 'Other units on this cluster and the topic prefix of their deployment, e.g. "1=b.,2=c.": messages and changes of conversations homed there are forwarded to them, and users homed there (PUT /v1/users/:uid {unit}) get their share on their <prefix><appid>-inbound (units share an app id).',
    shownDefault: '(none)',
    fallback: () => ({}),
    parse: (raw) => {
      const units: Record<string, string> = {}
      for (const pair of commaList(raw)) {
        const m = /^(\d+)=([a-zA-Z0-9._-]*)$/.exec(pair)
        if (!m?.[1] || Number(m[1]) > 31)
          throw new BadValue(
            `"${pair}" is not unit=prefix with a unit from 0 to 31 (for example 1=b.)`,
          )
        // "01" and "1" are one unit: conversations name it by its number.
        units[String(Number(m[1]))] = m[2] ?? ''
      }
      return units
    },
  }),
  setting({
    key: 'remoteUnitUrls',
    env: 'IMFLOW_REMOTE_UNIT_URLS',
    flag: 'remote-unit-urls',
    doc: 'The API of each unit in IMFLOW_REMOTE_UNITS, e.g. "1=http://10.0.0.3:8080": reads through this unit of a conversation homed there (history, list entry, read and reaction totals) are that unit\'s answer, and its members are checked there before an action (a unit that only routes a conversation keeps none of its log, cursors or totals and knows only the members added through it; tokens must be valid in both).',
    shownDefault: '(none)',
    fallback: () => ({}),
    parse: (raw) => {
      const urls: Record<string, string> = {}
      for (const pair of commaList(raw)) {
        const m = /^(\d+)=(.+)$/.exec(pair.trim())
        if (!m?.[1] || !m[2])
          throw new BadValue(`"${pair}" is not unit=url (for example 1=http://10.0.0.3:8080)`)
        urls[String(Number(m[1]))] = httpUrl(m[2])
      }
      return urls
    },
  }),
  setting({
    key: 'systemAccounts',
    env: 'IMFLOW_SYSTEM_ACCOUNTS',
    flag: 'system-accounts',
    doc: 'Accounts that message many conversations (notifications, bots), e.g. "system,billing-bot": their messages are not handed to their own inbox (no list rows, no sync for them), so one sender does not load its one user partition with a copy of every message.',
    shownDefault: '(none)',
    fallback: () => [],
    parse: commaList,
  }),
  setting({
    key: 'syncRebaseThreshold',
    env: 'IMFLOW_SYNC_REBASE_THRESHOLD',
    flag: 'sync-rebase-threshold',
    doc: 'A device that logs in (or falls) further behind than this many events gets one Rebase and is pushed from the head on.',
    shownDefault: String(syncDefaults.rebaseThreshold),
    fallback: () => syncDefaults.rebaseThreshold,
    parse: positive,
  }),
  setting({
    key: 'syncRetention',
    env: 'IMFLOW_SYNC_RETENTION',
    flag: 'sync-retention',
    doc: 'Events kept per user in the sync queue (for pushes and GET /v1/sync); at least IMFLOW_SYNC_REBASE_THRESHOLD.',
    shownDefault: String(syncDefaults.retention),
    fallback: () => syncDefaults.retention,
    parse: positive,
  }),
  setting({
    key: 'syncBatchSizes',
    env: 'IMFLOW_SYNC_BATCH_SIZES',
    flag: 'sync-batch-sizes',
    doc: 'Events per push envelope by device class, e.g. "MOBILE=50,DESKTOP=200"; classes not named keep their default.',
    shownDefault: Object.entries(defaultBatchSizes)
      .map(([deviceClass, size]) => `${deviceClass}=${size}`)
      .join(','),
    fallback: () => defaultBatchSizes,
    parse: (raw) => {
      const sizes = { ...defaultBatchSizes }
      for (const pair of commaList(raw)) {
        const m = /^([A-Z]+)=(\d+)$/.exec(pair)
        const deviceClass = deviceClasses.find((c) => c === m?.[1])
        if (!m || !deviceClass || Number(m[2]) < 1) {
          throw new BadValue(
            `"${pair}" is not CLASS=size with CLASS one of ${deviceClasses.join(', ')} and size at least 1`,
          )
        }
        sizes[deviceClass] = Number(m[2])
      }
      return sizes
    },
  }),
  setting({
    key: 'syncPackDelayMs',
    env: 'IMFLOW_SYNC_PACK_DELAY_MS',
    flag: 'sync-pack-delay-ms',
    doc: "How long a device's high-priority events wait to be packed with later transactions' events (0: those of one transaction go in one envelope and are pushed with it; low priority waits 4x longer, at least 80 ms).",
    shownDefault: String(syncDefaults.packDelayMs),
    fallback: () => syncDefaults.packDelayMs,
    parse: integer,
  }),
  setting({
    key: 'syncAckTimeoutMs',
    env: 'IMFLOW_SYNC_ACK_TIMEOUT_MS',
    flag: 'sync-ack-timeout-ms',
    doc: 'Pushes a device has not acked after this long are sent again (after 3 unanswered re-sends the device is taken for offline).',
    shownDefault: String(syncDefaults.ackTimeoutMs),
    fallback: () => syncDefaults.ackTimeoutMs,
    parse: positive,
  }),
  setting({
    key: 'notifyWindowMs',
    env: 'IMFLOW_NOTIFY_WINDOW_MS',
    flag: 'notify-window-ms',
    doc: 'A user with no device online gets one offline notification (on im.notify) per window, counting what arrived in it.',
    shownDefault: String(syncDefaults.notifyWindowMs),
    fallback: () => syncDefaults.notifyWindowMs,
    parse: positive,
  }),
  setting({
    key: 'mergeWindowLargeMs',
    env: 'IMFLOW_MERGE_WINDOW_LARGE_MS',
    flag: 'merge-window-large-ms',
    doc: 'Read receipts and reactions of a large group are merged per message over windows this long: one read status to the sender and one reaction summary to the group per message and window.',
    shownDefault: '60000',
    fallback: () => 60_000,
    parse: positive,
  }),
  setting({
    key: 'mergeWindowSmallMs',
    env: 'IMFLOW_MERGE_WINDOW_SMALL_MS',
    flag: 'merge-window-small-ms',
    doc: 'Merge windows of small groups and 1:1 conversations: short, so read ticks feel instant.',
    shownDefault: '200',
    fallback: () => 200,
    parse: positive,
  }),
  setting({
    key: 'mergeWindowGraceMs',
    env: 'IMFLOW_MERGE_WINDOW_GRACE_MS',
    flag: 'merge-window-grace-ms',
    doc: 'A merge window closes (and emits) this long after its end, so receipts stamped a little earlier still join it; later ones are counted in the next window, never lost.',
    shownDefault: '100',
    fallback: () => 100,
    parse: integer,
  }),
  setting({
    key: 'shapingCapacity',
    env: 'IMFLOW_SHAPING_CAPACITY',
    flag: 'shaping-capacity',
    doc: 'Messages/s one receiver task (one partition) delivers; past it the hottest conversations are throttled (OVERLOAD) and LOW waits. See docs/shaping.md for how to choose it.',
    shownDefault: '2000',
    fallback: () => 2_000,
    parse: positive,
  }),
  setting({
    key: 'shapingTargetLatencyMs',
    env: 'IMFLOW_SHAPING_TARGET_LATENCY_MS',
    flag: 'shaping-target-latency-ms',
    doc: 'When set, the capacity adapts (up to IMFLOW_SHAPING_CAPACITY) to keep the time messages wait on im.ingest near this; 0 keeps it fixed.',
    shownDefault: '0',
    fallback: () => 0,
    parse: integer,
  }),
  setting({
    key: 'lowDeadlineMs',
    env: 'IMFLOW_LOW_DEADLINE_MS',
    flag: 'low-deadline-ms',
    doc: 'A LOW-priority message waits for spare capacity at most this long after it was accepted, then is delivered anyway.',
    shownDefault: '3600000',
    fallback: () => 3_600_000,
    parse: (raw) => {
      const n = integer(raw)
      if (n < 100) throw new BadValue('expected at least 100 (ms)')
      return n
    },
  }),
  setting({
    key: 'lowQueueMax',
    env: 'IMFLOW_LOW_QUEUE_MAX',
    flag: 'low-queue-max',
    doc: 'Most LOW messages one receiver task keeps waiting; past it LOW messages are throttled (OVERLOAD).',
    shownDefault: '100000',
    fallback: () => 100_000,
    parse: positive,
  }),
  limitSetting(
    'limitConversation',
    'IMFLOW_LIMIT_CONVERSATION',
    'limit-conversation',
    'conversation',
  ),
  limitSetting('limitUser', 'IMFLOW_LIMIT_USER', 'limit-user', 'sender (user)'),
  limitSetting(
    'limitClientType',
    'IMFLOW_LIMIT_CLIENT_TYPE',
    'limit-client-type',
    'client type (the imflow-client-type header: the app platform)',
  ),
  limitSetting(
    'limitApplication',
    'IMFLOW_LIMIT_APPLICATION',
    'limit-application',
    "calling application (the token's app claim, or the imflow-app header)",
  ),
] as const

export type Flags = Readonly<Record<string, string | undefined>>

/**
 * Builds the configuration from flags (first) and the environment. Every problem is
 * collected, so one run tells the user everything to fix, not just the first thing.
 */
export function loadConfig(env: Env = process.env, flags: Flags = {}): Config {
  const out: Record<string, unknown> = {}
  const problems: string[] = []
  for (const s of settings) {
    const fromFlag = flags[s.flag]
    const raw = fromFlag ?? env[s.env]
    if (raw === undefined || (fromFlag === undefined && raw === '')) {
      out[s.key] = s.fallback(env, out as Partial<Config>)
      continue
    }
    try {
      out[s.key] = (s.parse as Parse<unknown>)(raw)
    } catch (err) {
      if (!(err instanceof BadValue)) throw err
      const source = fromFlag !== undefined ? `--${s.flag}` : s.env
      problems.push(`${source}=${JSON.stringify(raw)}: ${err.message}. ${s.doc}`)
    }
  }
  const config = out as unknown as Config
  if (problems.length === 0) problems.push(...crossFieldProblems(config))
  if (problems.length > 0) {
    throw new ImflowError(
      'IMF_ERR_CONFIG',
      `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    )
  }
  return Object.freeze(config)
}

function crossFieldProblems(c: Config): string[] {
  const problems: string[] = []
  if (c.geo in c.remoteGeos) {
    problems.push(
      `IMFLOW_REMOTE_GEOS names this deployment's own geo "${c.geo}": list only the other geos.`,
    )
  }
  for (const [geo, remote] of Object.entries(c.remoteGeos)) {
    // The same prefix and app id would be this deployment's own inbound: a loop, not a geo.
    if (remote.prefix === c.topicPrefix && (remote.appId ?? c.appId) === c.appId) {
      problems.push(
        `IMFLOW_REMOTE_GEOS gives geo ${geo} this deployment's own topics (prefix "${remote.prefix}", app id ${c.appId}): give it its deployment's IMFLOW_TOPIC_PREFIX, and its IMFLOW_APP_ID after a colon when it differs (${geo}=<prefix>:<app id>).`,
      )
    }
  }
  for (const geo of Object.keys(c.remoteGeoUrls)) {
    if (!Object.hasOwn(c.remoteGeos, geo))
      problems.push(
        `IMFLOW_REMOTE_GEO_URLS names geo ${geo}, which is not in IMFLOW_REMOTE_GEOS: list its topic prefix there too (${geo}=<prefix>[:<app id>]).`,
      )
  }
  for (const unit of Object.keys(c.remoteUnitUrls)) {
    if (!Object.hasOwn(c.remoteUnits, unit))
      problems.push(
        `IMFLOW_REMOTE_UNIT_URLS names unit ${unit}, which is not in IMFLOW_REMOTE_UNITS: list its topic prefix there too (${unit}=<prefix>).`,
      )
  }
  if (String(c.unit) in c.remoteUnits) {
    problems.push(
      `IMFLOW_REMOTE_UNITS names this deployment's own unit ${c.unit} (IMFLOW_UNIT): list only the other units.`,
    )
  }
  for (const [unit, prefix] of Object.entries(c.remoteUnits)) {
    // Forwarding writes to this cluster: the same prefix would be this deployment's own topics.
    if (prefix === c.topicPrefix && String(c.unit) !== unit) {
      problems.push(
        `IMFLOW_REMOTE_UNITS gives unit ${unit} this deployment's own topic prefix "${prefix}" (IMFLOW_TOPIC_PREFIX): each unit needs topics of its own.`,
      )
    }
  }
  if (c.kafkaBrokers === undefined && c.replicationFactor !== 1) {
    problems.push(
      `IMFLOW_REPLICATION=${c.replicationFactor}: the embedded broker is a single node, so the replication factor must be 1. Set KAFKA_BROKERS to a cluster with at least ${c.replicationFactor} brokers, or unset IMFLOW_REPLICATION.`,
    )
  }
  if (c.syncRetention < c.syncRebaseThreshold) {
    problems.push(
      `IMFLOW_SYNC_RETENTION=${c.syncRetention} is below IMFLOW_SYNC_REBASE_THRESHOLD=${c.syncRebaseThreshold}: a device pushed its backlog would find part of it gone. Raise the retention or lower the threshold.`,
    )
  }
  if (c.mergeWindowSmallMs > c.mergeWindowLargeMs) {
    problems.push(
      `IMFLOW_MERGE_WINDOW_SMALL_MS=${c.mergeWindowSmallMs} is above IMFLOW_MERGE_WINDOW_LARGE_MS=${c.mergeWindowLargeMs}: large groups would merge less than small ones. Lower the small window or raise the large one.`,
    )
  }
  const ports: [string, number][] = [['IMFLOW_PORT', c.apiPort]]
  if (c.kafkaBrokers === undefined) ports.push(['IMFLOW_KAFKA_PORT', c.embeddedKafkaPort])
  if (c.schemaRegistryUrl === undefined)
    ports.push(['IMFLOW_REGISTRY_PORT', c.embeddedRegistryPort])
  for (const [i, [a, p]] of ports.entries()) {
    for (const [b, q] of ports.slice(i + 1)) {
      if (p === q)
        problems.push(`${a} and ${b} are both ${p}: each server needs a port of its own.`)
    }
  }
  return problems
}

/** The one-line-per-setting table used by --help. */
export function describeSettings(): string {
  const width = Math.max(...settings.map((s) => `--${s.flag}, ${s.env}`.length)) + 2
  return settings
    .map((s) => {
      const left = `--${s.flag}, ${s.env}`.padEnd(width)
      return `  ${left}${s.doc} [default: ${s.shownDefault}]`
    })
    .join('\n')
}
