// Where imflow's Kafka and schema registry come from: the configured ones, or embedded
// servers started here when none is configured (the one-machine default).

import { join } from 'node:path'
import { type EmbeddedKafka, startEmbeddedKafka } from '../embedded/embedded-kafka.js'
import { type EmbeddedRegistry, startEmbeddedRegistry } from '../embedded/embedded-registry.js'
import { ImflowError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Config } from './config.js'

export interface Infrastructure {
  readonly kafkaBrokers: readonly string[]
  readonly schemaRegistryUrl: string
  /** True for a server this process started (and so stops). */
  readonly embedded: { readonly kafka: boolean; readonly registry: boolean }
  stop(): Promise<void>
}

export async function startInfrastructure(config: Config, log: Logger): Promise<Infrastructure> {
  // Both JVMs start in parallel; if one fails, the other is stopped before the error surfaces.
  const [kafka, registry] = await Promise.allSettled([
    config.kafkaBrokers
      ? Promise.resolve(undefined)
      : startEmbeddedKafka({
          port: config.embeddedKafkaPort,
          dataDir: join(config.dataDir, 'kafka'),
          heap: config.kafkaHeap,
          javaHome: config.javaHome,
          log: log.child('kafka'),
        }),
    config.schemaRegistryUrl
      ? Promise.resolve(undefined)
      : startEmbeddedRegistry({
          port: config.embeddedRegistryPort,
          dataDir: join(config.dataDir, 'registry'),
          heap: config.registryHeap,
          javaHome: config.javaHome,
          log: log.child('registry'),
        }),
  ])
  const started = [kafka, registry].flatMap((r) =>
    r.status === 'fulfilled' && r.value ? [r.value] : [],
  ) as (EmbeddedKafka | EmbeddedRegistry)[]
  const stopAll = async () => {
    await Promise.all(started.map((s) => s.stop()))
  }
  for (const r of [kafka, registry]) {
    if (r.status === 'rejected') {
      await stopAll()
      throw r.reason
    }
  }
  const k = kafka.status === 'fulfilled' ? kafka.value : undefined
  const s = registry.status === 'fulfilled' ? registry.value : undefined
  const kafkaBrokers = config.kafkaBrokers ?? k?.brokers
  const schemaRegistryUrl = config.schemaRegistryUrl ?? s?.url
  if (!kafkaBrokers || !schemaRegistryUrl)
    throw new ImflowError('IMF_ERR_INTERNAL', 'unreachable: no Kafka or registry')
  return {
    kafkaBrokers,
    schemaRegistryUrl,
    embedded: { kafka: k !== undefined, registry: s !== undefined },
    stop: stopAll,
  }
}
