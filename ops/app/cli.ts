// The `imflow` command line. Each command loads the configuration once, up front.

import { parseArgs } from 'node:util'
import { registerContract, valueSubject } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import { ensureJars } from '../embedded/fetch-jars.js'
import { ImflowError, isImflowError } from '../errors.js'
import { createKafka } from '../kafka-client.js'
import { createLogger, type Logger } from '../log.js'
import { startApp } from './app.js'
import { runTool, toolCommands } from './commands/index.js'
import { type Config, describeSettings, type Flags, loadConfig, settings } from './config.js'
import { startInfrastructure } from './infrastructure.js'
import { provisionModuleTopics, provisionTopics } from './provision-topics.js'
import { METRICS_REQUEST, READY_MESSAGE, StreamThreads } from './stream-threads.js'
import { awaitUnitDown } from './unit-failover.js'

const commands: Record<
  string,
  { summary: string; run: (config: Config, log: Logger, flags: Flags) => Promise<number> }
> = {
  start: {
    summary:
      'Run every topology and the HTTP API; starts an embedded Kafka and registry when none is configured.',
    run: start,
  },
  topics: {
    summary:
      "Create the contract's topics (and check existing ones); embedded servers start only for this.",
    run: topics,
  },
  'unit failover': {
    summary:
      'Take over a failed unit on this host: once its instances are gone, start it (IMFLOW_UNIT, prefix, app id) from its replicated topics.',
    run: unitFailover,
  },
  'fetch-jars': {
    summary:
      'Fetch the embedded Kafka and schema registry from Maven Central (done by start when needed).',
    run: async (_config, log) => {
      await ensureJars(log)
      return 0
    },
  },
}

function usage(): string {
  const all = { ...commands, ...toolCommands }
  const width = Math.max(...Object.keys(all).map((c) => c.length)) + 2
  return [
    'Usage: imflow <command> [options]',
    '',
    'Commands:',
    ...Object.entries(all).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '  (token, demo, bench, digest and replay take their own options: imflow <command> --help)',
    '',
    'Options (each also read from the environment variable named beside it; flags win):',
    describeSettings(),
    '  --help, -h   Show this help.',
  ].join('\n')
}

async function start(
  config: Config,
  log: Logger,
  flags: Flags,
  started?: () => void,
): Promise<number> {
  const threads = new StreamThreads(config, flags, log)
  const app = await startApp(config, log, { probes: threads.probes })
  try {
    await threads.start(app.infrastructure)
  } catch (err) {
    await threads.stop()
    await app.stop()
    throw err
  }
  started?.()
  app.metrics.addSource(() => threads.metrics())
  // Started by another `imflow start` as one of its stream threads: it is told we are up and
  // asks for our metrics (its /metrics sums every process's); when it goes away (the IPC
  // channel closes), so do we.
  process.on('message', (message) => {
    if (message !== METRICS_REQUEST) return
    app.metrics.registry
      .getMetricsAsJSON()
      .then((metrics) => process.send?.({ metrics }))
      .catch((err) => log.warn('could not collect metrics', { error: String(err) }))
  })
  process.send?.(READY_MESSAGE)
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
    if (process.send) process.once('disconnect', () => resolve('parent gone'))
  })
  log.info('stopping', { signal })
  // A second Ctrl-C while stopping means: now.
  process.once('SIGINT', () => process.exit(130))
  // The other processes first: they commit through the broker this one may have embedded.
  await threads.stop()
  await app.stop()
  log.info('stopped')
  return 0
}

/** A failed unit's topics are on its cluster: once nobody runs it, this host starts it (unit-failover.ts). */
async function unitFailover(config: Config, log: Logger, flags: Flags): Promise<number> {
  const began = Date.now()
  if (!config.kafkaBrokers)
    throw new ImflowError(
      'IMF_ERR_CONFIG',
      'imflow unit failover takes a unit over on its cluster: set KAFKA_BROKERS (an embedded broker holds no other unit).',
    )
  const admin = createKafka(config.kafkaBrokers, `${config.appId}-failover`, log).admin()
  await admin.connect()
  try {
    await awaitUnitDown(admin, config, log)
  } finally {
    await admin.disconnect()
  }
  log.info('taking the unit over', { unit: config.unit, prefix: config.topicPrefix })
  return start(config, log, flags, () =>
    log.info('unit taken over', { unit: config.unit, ms: Date.now() - began }),
  )
}

async function topics(config: Config, log: Logger): Promise<number> {
  const infrastructure = await startInfrastructure(config, log)
  const admin = createKafka(infrastructure.kafkaBrokers, `${config.appId}-admin`, log).admin()
  try {
    await admin.connect()
    const report = await provisionTopics(admin, config, log)
    await provisionModuleTopics(admin, config, log)
    const codecs = Object.values(
      await registerContract(
        registrySchemaSource(infrastructure.schemaRegistryUrl),
        config.topicPrefix,
      ),
    )
    for (const t of report) {
      const codec = codecs.find((c) => c.subject === valueSubject(t.name))
      process.stdout.write(
        `${t.action.padEnd(8)} ${t.name.padEnd(32)} partitions=${t.partitions}${t.compacted ? ' compacted' : ''} schema=${codec?.subject}#${codec?.schemaId}\n`,
      )
    }
    return 0
  } finally {
    await admin.disconnect()
    await infrastructure.stop()
  }
}

export async function main(argv: string[]): Promise<number> {
  const tool = argv[0] === undefined ? undefined : toolCommands[argv[0]]
  if (tool) return runTool(argv[0] as string, tool, argv.slice(1))
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(settings.map((s) => [s.flag, { type: 'string' as const }])),
      },
    })
  } catch (err) {
    process.stderr.write(`imflow: IMF_ERR_USAGE: ${(err as Error).message}\n\n${usage()}\n`)
    return 2
  }
  const [first, ...more] = parsed.positionals
  if (parsed.values.help || first === undefined || first === 'help') {
    process.stdout.write(`${usage()}\n`)
    return first === undefined && !parsed.values.help ? 2 : 0
  }
  // A command of two words (`unit failover`) takes the second one with it.
  const two = more[0] === undefined ? undefined : `${first} ${more[0]}`
  const name = two !== undefined && two in commands ? two : first
  const rest = name === two ? more.slice(1) : more
  const command = commands[name]
  if (!command || rest.length > 0) {
    const what = command ? `unexpected argument "${rest[0]}"` : `unknown command "${name}"`
    process.stderr.write(`imflow: IMF_ERR_USAGE: ${what}\n\n${usage()}\n`)
    return 2
  }
  let log = createLogger()
  try {
    const flags = parsed.values as Record<string, string | undefined>
    const config = loadConfig(process.env, flags)
    log = createLogger(config.logLevel)
    return await command.run(config, log, flags)
  } catch (err) {
    if (isImflowError(err)) {
      log.error(`${err.message}`, { code: err.code })
      return 1
    }
    log.error(
      `unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    )
    return 1
  }
}
