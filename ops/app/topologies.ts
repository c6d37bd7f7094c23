// Starts every topology of the registry (topologies/registry.ts), in its order, on the
// wiring read from the configuration: topic names, codecs, settings, the users' home geos.
// Nothing here knows one topology from another; a new one is a line in the registry. The
// topics modules need before they start were created by provisioning (provision-topics.ts).

import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { createEventCodec } from '../../schemas/codec.js'
import type { ContractCodecs } from '../../schemas/contract.js'
import type { SchemaSource } from '../../schemas/schema-source.js'
import { type ContractTopic, topicName } from '../../schemas/topics.js'
import type { UserEvent } from '../../schemas/types.generated.js'
import type { RemoteTargets } from '../../topologies/receiver/index.js'
import { type TopologyQueries, topologyModules } from '../../topologies/registry.js'
import {
  GlobalTable,
  internalTopic,
  type RunnerOptions,
  type RunningTopology,
  startTopology,
} from '../../topologies/runtime/index.js'
import { type Limits, LimitsTable, ShapingStats, shaping } from '../../topologies/shaping/index.js'
import type { SyncSettings } from '../../topologies/sync/index.js'
import { FANOUT, type TopologyWiring } from '../../topologies/wiring.js'
import type { Logger } from '../log.js'
import type { TaskMetrics } from '../metrics.js'
import type { Config } from './config.js'
import { runtimeId, topicNaming } from './provision-topics.js'

export interface TopologyContext {
  config: Config
  kafka: Kafka
  codecs: ContractCodecs
  schemas: SchemaSource
  log: Logger
  metrics: TaskMetrics
  /** Instruments of topologies that report more than every task does. */
  topologyMetrics?: TopologyWiring['metrics']
  /** Whether other geos' and units' topics exist (remote-targets.ts). */
  remoteTargets?: RemoteTargets
  /** Reads of partitions other instances own go to them (see docs/runtime.md). */
  peers?: RunnerOptions['peers']
  /**
   * Contract topics' names; default: under the topic prefix. A shadow replay (`imflow replay
   * --into`) reads the live inputs but writes its outputs elsewhere (docs/replay.md).
   */
  contractTopic?: (base: ContractTopic) => string
  /**
   * Only these topologies (by name; default every one in the registry), without their
   * queries for the others: a deployment from before a topology was added, as the backfill
   * test needs (docs/replay.md).
   */
  only?: readonly string[]
  /**
   * The limits document to follow (default: this app's own, `<app>-limits`). A shadow replay
   * follows the live app's, so it shapes by the limits in force live (docs/replay.md).
   */
  limitsTopic?: string
}

export interface RunningTopologies {
  readonly topologies: readonly RunningTopology[]
  /** What the API reads, by topology. */
  readonly queries: TopologyQueries
  /** The rate limits and capacity in force (GET/PUT /v1/limits), and what shaping counted. */
  readonly limits: LimitsTable
  readonly shaping: ShapingStats
  /** Users' homes (im.users): this instance's replica. */
  readonly users: { get(userId: string): UserEvent | undefined }
  /** Everything to stop, in start order. */
  readonly all: readonly { readonly name: string; stop(): Promise<void> }[]
}

export async function startTopologies(ctx: TopologyContext): Promise<RunningTopologies> {
  const { config } = ctx
  // Users' home geos and units: a full replica in every instance, for the split's point lookups.
  const users = await GlobalTable.start(
    ctx.kafka,
    topicName(config.topicPrefix, 'im.users'),
    (b) => ctx.codecs['im.users'].decode(b),
    (u: UserEvent) => u.userId,
    ctx.log,
  )
  const started: { readonly name: string; stop(): Promise<void> }[] = [
    { name: 'the users table', stop: () => users.stop() },
  ]
  try {
    // The limits in force: the latest PUT /v1/limits, seen by every instance; else the settings.
    const limits = await LimitsTable.start(
      ctx.kafka,
      ctx.limitsTopic ?? internalTopic(runtimeId(config), 'limits'),
      defaultLimits(config),
      config.replicationFactor,
    )
    started.push({ name: 'the limits table', stop: () => limits.stop() })
    const stats = new ShapingStats()
    const admission = shaping({
      limits: () => limits.current(),
      targetLatencyMs: config.shapingTargetLatencyMs,
      largeGroupMembers: config.largeGroupThreshold,
      lowQueueMax: config.lowQueueMax,
      stats,
    })
    const wiring = await wiringFor(ctx, (userId) => users.get(userId), admission)
    const running: RunningTopology[] = []
    const queries: Record<string, unknown> = {}
    for (const module of topologyModules) {
      if (ctx.only && !ctx.only.includes(module.name)) continue
      const topology = await run(ctx, module.build(wiring), 'paced' in module && module.paced)
      started.push(topology)
      running.push(topology)
      if ('queries' in module) queries[module.name] = module.queries(topology, wiring)
    }
    return {
      topologies: running,
      queries: queries as TopologyQueries,
      limits,
      shaping: stats,
      users,
      all: started,
    }
  } catch (err) {
    for (const s of started.reverse()) await s.stop()
    throw err
  }
}

/** What every module is built from (exported for tools that read the topologies' sources). */
export async function wiringFor(
  ctx: TopologyContext,
  userOf: TopologyWiring['userOf'],
  admission: TopologyWiring['admission'],
): Promise<TopologyWiring> {
  const { config } = ctx
  const appId = runtimeId(config)
  const fanout = internalTopic(appId, FANOUT)
  return {
    ...topicNaming(config),
    ...(ctx.contractTopic ? { topic: ctx.contractTopic } : {}),
    appId,
    // Another deployment, under its own prefix and app id.
    remoteInternalTopic: (remote, name) => internalTopic(`${remote.prefix}${remote.appId}`, name),
    remoteTopic: (prefix, base) => topicName(prefix, base),
    codecs: ctx.codecs,
    fanoutCodec: await createEventCodec(ctx.schemas, `${fanout}-value`, 'FanoutBatch'),
    partitions: config.partitions,
    userOf,
    settings: {
      unit: config.unit,
      geo: config.geo,
      // A geo named without an app id runs under this one's.
      remoteGeos: Object.fromEntries(
        Object.entries(config.remoteGeos).map(([geo, r]) => [
          geo,
          { prefix: r.prefix, appId: r.appId ?? config.appId },
        ]),
      ),
      appId: config.appId,
      remoteUnits: config.remoteUnits,
      systemAccounts: config.systemAccounts,
      largeGroupThreshold: config.largeGroupThreshold,
      maxBodyBytes: config.maxBodyBytes,
      sync: syncSettings(config),
      mergeWindows: {
        smallMs: config.mergeWindowSmallMs,
        largeMs: config.mergeWindowLargeMs,
        graceMs: config.mergeWindowGraceMs,
      },
    },
    metrics: ctx.topologyMetrics ?? {},
    ...(admission ? { admission } : {}),
    ...(ctx.remoteTargets ? { remoteTargets: ctx.remoteTargets } : {}),
  }
}

function run(
  ctx: TopologyContext,
  topology: Parameters<typeof startTopology>[0],
  /** No push waits on it: it may commit at the transaction pace. */
  paced: boolean,
) {
  const { config } = ctx
  const deadLetters = ctx.codecs['im.dead-letter']
  return startTopology(topology, {
    kafka: ctx.kafka,
    appId: runtimeId(config),
    stateDir: join(config.dataDir, 'state'),
    log: ctx.log.child(topology.name),
    metrics: ctx.metrics,
    replicationFactor: config.replicationFactor,
    commitIntervalMs: config.commitIntervalMs,
    cacheMaxBytes: config.cacheMaxBytes,
    transactionScope: config.transactionScope,
    transactionPaceMs: paced ? config.transactionPaceMs : 0,
    ...(ctx.peers ? { peers: ctx.peers } : {}),
    deadLetters: {
      topic:
        ctx.contractTopic?.('im.dead-letter') ?? topicName(config.topicPrefix, 'im.dead-letter'),
      encode: (letter) => deadLetters.encode(letter),
    },
  })
}

/** The limits before any PUT /v1/limits: from the settings. */
export function defaultLimits(config: Config): Limits {
  const dimension = (limit: Config['limitUser']) => ({ default: limit, overrides: {} })
  return {
    capacity: config.shapingCapacity,
    lowDeadlineMs: config.lowDeadlineMs,
    conversation: dimension(config.limitConversation),
    user: dimension(config.limitUser),
    clientType: dimension(config.limitClientType),
    application: dimension(config.limitApplication),
  }
}

export function syncSettings(config: Config): SyncSettings {
  return {
    rebaseThreshold: config.syncRebaseThreshold,
    retention: config.syncRetention,
    batchSizes: config.syncBatchSizes,
    packDelayMs: config.syncPackDelayMs,
    ackTimeoutMs: config.syncAckTimeoutMs,
    notifyWindowMs: config.notifyWindowMs,
  }
}
