// A single-node Apache Kafka (KRaft, combined broker + controller) on 127.0.0.1, run from
// the jars Maven fetched. For `imflow start` with no KAFKA_BROKERS, and for the tests.

import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import { ImflowError } from '../errors.js'
import { assertPortFree, freePort } from '../ports.js'
import { ensureJars } from './fetch-jars.js'
import { findJava } from './java.js'
import { type EmbeddedServerOptions, type JvmProcess, spawnJvm } from './jvm-process.js'
import { waitUntilReady } from './wait-until-ready.js'

const run = promisify(execFile)

export interface EmbeddedKafka {
  readonly brokers: string[]
  readonly process: JvmProcess
  stop(): Promise<void>
}

const HOST = '127.0.0.1'

function serverProperties(port: number, controllerPort: number, logDir: string): string {
  return `${[
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${HOST}:${controllerPort}`,
    `listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${HOST}:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${logDir}`,
    'num.partitions=1',
    // A single node: internal topics cannot have more replicas than brokers, and
    // transactions hang unless their state log accepts one in-sync replica.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // Topics are made by provisioning, never by a typo in a producer.
    'auto.create.topics.enable=false',
  ].join('\n')}\n`
}

const log4j2Properties = `${[
  'status = warn',
  'appender.out.type = Console',
  'appender.out.name = out',
  'appender.out.layout.type = PatternLayout',
  'appender.out.layout.pattern = [%d] %p %m (%c)%n',
  'rootLogger.level = info',
  'rootLogger.appenderRef.out.ref = out',
  'logger.state.name = state.change.logger',
  'logger.state.level = warn',
].join('\n')}\n`

/**
 * Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding. Like Kafka's
 * own Uuid.randomUuid(), never one starting with "-": the storage tool would read it as an
 * option (seen here: "argument --cluster-id/-t: expected one argument", 1 start in 64).
 */
export function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

export async function startEmbeddedKafka(options: EmbeddedServerOptions): Promise<EmbeddedKafka> {
  const { port, log } = options
  await assertPortFree(
    HOST,
    port,
    'The embedded Kafka broker',
    'Stop what listens there, choose another port with IMFLOW_KAFKA_PORT, or set KAFKA_BROKERS to use a running cluster.',
  )
  const java = await findJava(17, 'The embedded Kafka broker', { javaHome: options.javaHome })
  const jars = await ensureJars(log, { kafka: true, registry: false })
  const dir = options.dataDir
  const logDir = join(dir, 'logs')
  await mkdir(logDir, { recursive: true })
  const controllerPort = await freePort(HOST)
  const config = join(dir, 'server.properties')
  await writeFile(config, serverProperties(port, controllerPort, logDir))
  await writeFile(join(dir, 'log4j2.properties'), log4j2Properties)
  const jvmArgs = [
    `-Xmx${options.heap ?? '512m'}`,
    '-XX:+UseG1GC',
    `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
    '-cp',
    jars.kafkaClasspath,
  ]

  if (!existsSync(join(logDir, 'meta.properties'))) {
    log.info('formatting KRaft storage', { dir: logDir })
    try {
      await run(
        java.bin,
        [...jvmArgs, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', config],
        {
          cwd: dir,
          timeout: 60_000,
        },
      )
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string }
      throw new ImflowError(
        'IMF_ERR_SERVER_EXITED',
        `Formatting Kafka storage in ${logDir} failed:\n${e.stderr || e.stdout || String(err)}`,
        { cause: err },
      )
    }
  }

  log.info(`starting Apache Kafka ${jars.kafkaVersion}`, { port, java: java.bin })
  const jvm = await spawnJvm({
    name: 'kafka',
    java: java.bin,
    args: [...jvmArgs, 'kafka.Kafka', config],
    cwd: dir,
    logFile: join(dir, 'server.log'),
    pidFile: join(dir, 'kafka.pid'),
    log,
  })
  const brokers = [`${HOST}:${port}`]
  const admin = new Kafka({
    clientId: 'imflow-embedded-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
  }).admin()
  try {
    await waitUntilReady({
      what: 'The embedded Kafka broker',
      process: jvm,
      timeoutMs: options.startTimeoutMs ?? 90_000,
      probe: async () => {
        await admin.connect()
        await admin.describeCluster()
      },
    })
  } catch (err) {
    await jvm.stop()
    throw err
  } finally {
    await admin.disconnect().catch(() => {})
  }
  log.info('Kafka is ready', { brokers: brokers.join(',') })
  return { brokers, process: jvm, stop: () => jvm.stop() }
}
