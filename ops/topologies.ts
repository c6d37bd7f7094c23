// The topologies `imflow start` runs, wired to the contract's topics and codecs.

import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { createEventCodec } from '../schemas/codec.js'
import type { ContractCodecs } from '../schemas/contract.js'
import type { SchemaSource } from '../schemas/schema-source.js'
import { topicName } from '../schemas/topics.js'
import { inboxTopology } from '../topologies/inbox/index.js'
import { receiverTopology } from '../topologies/receiver/index.js'
import {
  type RunningTopology,
  startTopology,
  type TopologyDefinition,
} from '../topologies/runtime/index.js'
import type { Config } from './config.js'
import type { Logger } from './log.js'
import type { TaskMetrics } from './metrics.js'

export interface TopologyContext {
  config: Config
  kafka: Kafka
  codecs: ContractCodecs
  schemas: SchemaSource
  log: Logger
  metrics: TaskMetrics
}

/** Internal topics and consumer groups carry the topic prefix too, so geos can share a cluster. */
export function runtimeId(config: Config): string {
  return `${config.topicPrefix}${config.appId}`
}

export interface RunningTopologies {
  readonly receiver: RunningTopology
  readonly inbox: RunningTopology
  readonly all: readonly RunningTopology[]
}

export async function startTopologies(ctx: TopologyContext): Promise<RunningTopologies> {
  const { config, codecs } = ctx
  const appId = runtimeId(config)
  const topic = (base: Parameters<typeof topicName>[1]) => topicName(config.topicPrefix, base)
  const fanout = `${appId}-fanout`
  const fanoutCodec = await createEventCodec(ctx.schemas, `${fanout}-value`, 'FanoutBatch')
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
    unit: config.unit,
    limits: { maxBodyBytes: config.maxBodyBytes, maxClientMsgIdLength: 128 },
  })
  const deadLetters = codecs['im.dead-letter']
  const run = (topology: TopologyDefinition) =>
    startTopology(topology, {
      kafka: ctx.kafka,
      appId,
      stateDir: join(config.dataDir, 'state'),
      log: ctx.log.child(topology.name),
      metrics: ctx.metrics,
      deadLetters: {
        topic: topic('im.dead-letter'),
        encode: (letter) => deadLetters.encode(letter),
      },
    })
  // The receiver first: it creates the fanout topic the inbox reads.
  const started = await run(receiver)
  try {
    const inbox = await run(inboxTopology({ fanout, codec: fanoutCodec }))
    return { receiver: started, inbox, all: [started, inbox] }
  } catch (err) {
    await started.stop()
    throw err
  }
}
