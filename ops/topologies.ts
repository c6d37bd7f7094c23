// The topologies `imflow start` runs, wired to the contract's topics and codecs.

import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { createEventCodec } from '../schemas/codec.js'
import type { ContractCodecs } from '../schemas/contract.js'
import type { SchemaSource } from '../schemas/schema-source.js'
import { topicName } from '../schemas/topics.js'
import { inboxTopology } from '../topologies/inbox/index.js'
import { inboundTopology, receiverTopology } from '../topologies/receiver/index.js'
import {
  GlobalTable,
  type RunnerOptions,
  type RunningTopology,
  startTopology,
  type TopologyDefinition,
} from '../topologies/runtime/index.js'
import { type Limits, LimitsTable, ShapingStats, shaping } from '../topologies/shaping/index.js'
import { type SyncSettings, syncTopology } from '../topologies/sync/index.js'
import type { Config } from './config.js'
import { createTopicsAndWait } from './kafka-admin.js'
import type { Logger } from './log.js'
import type { TaskMetrics } from './metrics.js'

export interface TopologyContext {
  config: Config
  kafka: Kafka
  codecs: ContractCodecs
  schemas: SchemaSource
  log: Logger
  metrics: TaskMetrics
  /** Reads of partitions other instances own go to them (see docs/runtime.md). */
  peers?: RunnerOptions['peers']
}

/** Internal topics and consumer groups carry the topic prefix too, so geos can share a cluster. */
export function runtimeId(config: Config): string {
  return `${config.topicPrefix}${config.appId}`
}

export interface RunningTopologies {
  readonly receiver: RunningTopology
  readonly inbox: RunningTopology
  readonly sync: RunningTopology
  /** The rate limits and capacity in force (GET/PUT /v1/limits), and what shaping counted. */
  readonly limits: LimitsTable
  readonly shaping: ShapingStats
  /** Everything to stop, in start order. */
  readonly all: readonly { stop(): Promise<void> }[]
}

export async function startTopologies(ctx: TopologyContext): Promise<RunningTopologies> {
  const { config, codecs } = ctx
  const appId = runtimeId(config)
  const topic = (base: Parameters<typeof topicName>[1]) => topicName(config.topicPrefix, base)
  const fanout = `${appId}-fanout`
  const fanoutCodec = await createEventCodec(ctx.schemas, `${fanout}-value`, 'FanoutBatch')
  // Users' home geos: a full replica in every instance, for the geo split's point lookups.
  const users = await GlobalTable.start(
    ctx.kafka,
    topic('im.users'),
    (b) => codecs['im.users'].decode(b),
    (u) => u.userId,
  )
  // The limits in force: the latest PUT /v1/limits, seen by every instance; else the settings.
  const limits = await LimitsTable.start(
    ctx.kafka,
    `${appId}-limits`,
    defaultLimits(config),
    config.replicationFactor,
  ).catch(async (err) => {
    await users.stop()
    throw err
  })
  const shapingStats = new ShapingStats()
  const receiver = receiverTopology({
    topics: {
      ingest: topic('im.ingest'),
      conversations: topic('im.conversations'),
      actions: topic('im.actions'),
      receipts: topic('im.receipts'),
      fanout,
    },
    codecs: {
      sendMessage: codecs['im.ingest'],
      conversationEvent: codecs['im.conversations'],
      receipt: codecs['im.receipts'],
      action: codecs['im.actions'],
      fanoutBatch: fanoutCodec,
    },
    userPartitions: config.partitions,
    largeGroupThreshold: config.largeGroupThreshold,
    geos: {
      local: config.geo,
      geoOf: (userId) => users.get(userId)?.geo,
      // Each geo's deployment reads its inbound topic under its own prefix (same app id).
      inbound: Object.fromEntries(
        Object.entries(config.remoteGeos).map(([geo, prefix]) => [
          geo,
          `${prefix}${config.appId}-inbound`,
        ]),
      ),
    },
    // Each unit's deployment reads the contract topics under its own prefix.
    units: Object.fromEntries(
      Object.entries(config.remoteUnits).map(([unit, prefix]) => [
        unit,
        {
          ingest: topicName(prefix, 'im.ingest'),
          conversations: topicName(prefix, 'im.conversations'),
          receipts: topicName(prefix, 'im.receipts'),
        },
      ]),
    ),
    unit: config.unit,
    limits: { maxBodyBytes: config.maxBodyBytes, maxClientMsgIdLength: 128 },
    admission: shaping({
      limits: () => limits.current(),
      targetLatencyMs: config.shapingTargetLatencyMs,
      largeGroupMembers: config.largeGroupThreshold,
      lowQueueMax: config.lowQueueMax,
      stats: shapingStats,
    }),
  })
  const deadLetters = codecs['im.dead-letter']
  const run = (topology: TopologyDefinition) =>
    startTopology(topology, {
      kafka: ctx.kafka,
      appId,
      stateDir: join(config.dataDir, 'state'),
      log: ctx.log.child(topology.name),
      metrics: ctx.metrics,
      replicationFactor: config.replicationFactor,
      ...(ctx.peers ? { peers: ctx.peers } : {}),
      deadLetters: {
        topic: topic('im.dead-letter'),
        encode: (letter) => deadLetters.encode(letter),
      },
    })
  await ensureTopic(ctx.kafka, `${appId}-inbound`, config.partitions, config.replicationFactor)
  const started: { stop(): Promise<void> }[] = [users, limits]
  try {
    // This geo's inbound topic (other geos' receivers write to it) exists before anything
    // runs; the receiver creates the fanout topic the inbox reads, so it starts first.
    started.push(
      await run(
        inboundTopology({
          inbound: `${appId}-inbound`,
          fanout,
          userPartitions: config.partitions,
          codec: fanoutCodec,
        }),
      ),
    )
    const receiving = await run(receiver)
    started.push(receiving)
    const inbox = await run(inboxTopology({ fanout, codec: fanoutCodec }))
    started.push(inbox)
    const sync = await run(
      syncTopology({
        topics: {
          fanout,
          deviceEvents: topic('im.device-events'),
          sync: topic('im.sync'),
          notify: topic('im.notify'),
        },
        codecs: {
          fanoutBatch: fanoutCodec,
          deviceEvent: codecs['im.device-events'],
          syncEnvelope: codecs['im.sync'],
          notification: codecs['im.notify'],
        },
        settings: syncSettings(config),
      }),
    )
    started.push(sync)
    return { receiver: receiving, inbox, sync, limits, shaping: shapingStats, all: started }
  } catch (err) {
    for (const s of started.reverse()) await s.stop()
    throw err
  }
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

/** Creates a topic of this deployment if it is missing. */
async function ensureTopic(
  kafka: Kafka,
  topic: string,
  partitions: number,
  replicationFactor: number,
): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      await createTopicsAndWait(admin, [{ topic, numPartitions: partitions, replicationFactor }])
    }
  } finally {
    await admin.disconnect()
  }
}
