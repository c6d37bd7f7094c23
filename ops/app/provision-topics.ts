// Creates the contract's topics that are missing and checks the ones that exist. An existing
// topic with another partition count or cleanup policy is an error, never silently
// "fixed": co-partitioning and compaction are what the topologies' correctness rests on.

import kafkajs, { type Admin } from 'kafkajs'
import { contractTopics, type TopicSpec, topicName } from '../../schemas/topics.js'
import { topologyModules } from '../../topologies/registry.js'
import { internalTopic } from '../../topologies/runtime/index.js'
import type { TopicNaming } from '../../topologies/wiring.js'
import { ImflowError } from '../errors.js'
import { createMissingTopics } from '../kafka-admin.js'
import type { Logger } from '../log.js'
import { retry } from '../retry.js'
import type { Config } from './config.js'

// kafkajs is CommonJS; Node's ESM loader does not see this export by name.
const { ConfigResourceTypes } = kafkajs

export interface ProvisionOptions {
  topicPrefix: string
  partitions: number
  replicationFactor: number
  topics?: readonly TopicSpec[]
}

export interface ProvisionedTopic {
  readonly name: string
  readonly action: 'created' | 'exists'
  readonly partitions: number
  readonly compacted: boolean
}

export async function provisionTopics(
  admin: Admin,
  options: ProvisionOptions,
  log: Logger,
): Promise<ProvisionedTopic[]> {
  const specs = (options.topics ?? contractTopics).map((spec) => ({
    ...spec,
    name: `${options.topicPrefix}${spec.base}`,
  }))
  let created: Set<string>
  try {
    created = new Set(
      await createMissingTopics(
        admin,
        specs.map((s) => ({
          topic: s.name,
          numPartitions: options.partitions,
          replicationFactor: options.replicationFactor,
          configEntries: [{ name: 'cleanup.policy', value: s.compacted ? 'compact' : 'delete' }],
        })),
      ),
    )
  } catch (err) {
    const detail = (err as { errors?: unknown[] }).errors ?? []
    throw new ImflowError(
      'IMF_ERR_KAFKA_UNAVAILABLE',
      `Creating topics ${specs.map((s) => s.name).join(', ')} failed: ${String(err)} ${JSON.stringify(detail)}. If the replication factor (${options.replicationFactor}) exceeds the number of brokers, lower IMFLOW_REPLICATION.`,
      { cause: err },
    )
  }
  for (const s of specs.filter((s) => created.has(s.name)))
    log.info('created topic', {
      topic: s.name,
      partitions: options.partitions,
      compacted: s.compacted,
    })

  const present = specs.filter((s) => !created.has(s.name))
  const problems: string[] = []
  if (present.length > 0) {
    // A topic created a moment ago may not be in every broker's metadata yet.
    const { topics } = await retry(() =>
      admin.fetchTopicMetadata({ topics: present.map((s) => s.name) }),
    )
    const partitionsOf = new Map(topics.map((t) => [t.name, t.partitions.length]))
    const described = await retry(() =>
      admin.describeConfigs({
        includeSynonyms: false,
        resources: present.map((s) => ({
          type: ConfigResourceTypes.TOPIC,
          name: s.name,
          configNames: ['cleanup.policy'],
        })),
      }),
    )
    const policyOf = new Map(
      described.resources.map((r) => [
        r.resourceName,
        r.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? 'delete',
      ]),
    )
    for (const s of present) {
      const partitions = partitionsOf.get(s.name)
      if (partitions !== options.partitions) {
        problems.push(
          `${s.name} has ${partitions} partitions, the configuration says ${options.partitions}: set IMFLOW_PARTITIONS=${partitions}, or delete the topic so it is created again`,
        )
      }
      const compacted = (policyOf.get(s.name) ?? '').split(',').includes('compact')
      if (compacted !== s.compacted) {
        problems.push(
          `${s.name} has cleanup.policy=${policyOf.get(s.name)}, the contract needs ${s.compacted ? 'compact' : 'delete'}: alter the topic's cleanup.policy`,
        )
      }
    }
  }
  if (problems.length > 0) {
    throw new ImflowError(
      'IMF_ERR_TOPIC_MISMATCH',
      `Existing topics do not match the contract:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    )
  }
  return specs.map((s) => ({
    name: s.name,
    action: created.has(s.name) ? 'created' : 'exists',
    partitions: options.partitions,
    compacted: s.compacted,
  }))
}

/** Internal topics and consumer groups carry the topic prefix too, so geos can share a cluster. */
export function runtimeId(config: Pick<Config, 'topicPrefix' | 'appId'>): string {
  return `${config.topicPrefix}${config.appId}`
}

/** How this deployment names its topics (what modules name theirs with). */
export function topicNaming(config: Pick<Config, 'topicPrefix' | 'appId'>): TopicNaming {
  const appId = runtimeId(config)
  return {
    topic: (base) => topicName(config.topicPrefix, base),
    internalTopic: (name) => internalTopic(appId, name),
  }
}

/**
 * The topics the registry's modules read before anything of this deployment writes them
 * (`TopologyModule.topics`), created if missing; returns the ones created.
 */
export async function provisionModuleTopics(
  admin: Admin,
  config: Pick<Config, 'topicPrefix' | 'appId' | 'partitions' | 'replicationFactor'>,
  log: Logger,
): Promise<string[]> {
  const naming = topicNaming(config)
  const topics = topologyModules.flatMap((m) => ('topics' in m ? m.topics(naming) : []))
  const created = await createMissingTopics(
    admin,
    topics.map((topic) => ({
      topic,
      numPartitions: config.partitions,
      replicationFactor: config.replicationFactor,
    })),
  )
  for (const topic of created) log.info('created topic', { topic, partitions: config.partitions })
  return created
}
