// digest and replay work on a deployment, so they take the server's settings (flags and
// environment, as `imflow start` does: --brokers, --app-id, --topic-prefix, ...) beside
// their own flags, and start the embedded servers when none are configured, as `topics` does.

import type { ParseArgsConfig } from 'node:util'
import type { Admin, Kafka } from 'kafkajs'
import { createKafka } from '../../../kafka-client.js'
import { createLogger, type Logger } from '../../../log.js'
import { type Config, loadConfig, settings } from '../../config.js'
import { type Infrastructure, startInfrastructure } from '../../infrastructure.js'
import { parseToolArgs } from '../args.js'

type Options = NonNullable<ParseArgsConfig['options']>

const settingOptions = Object.fromEntries(
  settings.map((s) => [s.flag, { type: 'string' as const }]),
) as Record<string, { type: 'string' }>

/** Parses the command's own flags and the server's settings; the config is validated. */
export function parseWithSettings<O extends Options>(command: string, argv: string[], own: O) {
  const parsed = parseToolArgs(command, argv, { ...settingOptions, ...own })
  const values = parsed.values as Record<string, unknown>
  const flags = Object.fromEntries(settings.map((s) => [s.flag, values[s.flag] as string]))
  return { parsed, config: () => loadConfig(process.env, flags) }
}

export interface Deployment {
  readonly config: Config
  readonly kafka: Kafka
  readonly admin: Admin
  readonly infrastructure: Infrastructure
  readonly log: Logger
  close(): Promise<void>
}

/** The deployment's Kafka (embedded when none is configured) and an admin client. */
export async function connect(config: Config, log = createLogger(config.logLevel)) {
  const infrastructure = await startInfrastructure(config, log)
  const kafka = createKafka(infrastructure.kafkaBrokers, `${config.appId}-tools`, log)
  const admin = kafka.admin()
  try {
    await admin.connect()
  } catch (err) {
    await infrastructure.stop()
    throw err
  }
  const deployment: Deployment = {
    config,
    kafka,
    admin,
    infrastructure,
    log,
    async close() {
      await admin.disconnect()
      await infrastructure.stop()
    },
  }
  return deployment
}
