// The Kafka Streams peer (bench/peers/kafka-streams/): built by Maven when a benchmark first
// needs it (never in CI), run as a JVM of its own against the benchmark's broker.

import { type ChildProcess, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Admin } from 'kafkajs'
import { findJava } from '../../ops/embedded/java.js'
import { committed, topicEnds, waitFor } from '../broker.js'

const project = new URL('./kafka-streams/', import.meta.url).pathname
const buildDir = new URL('../../.imflow/peers/kafka-streams/', import.meta.url).pathname

/** As shipped: Kafka Streams' default statestore.cache.max.bytes (10 MiB). */
export const KAFKA_STREAMS_DEFAULT_CACHE_BYTES = 10 * 1024 * 1024

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout?.on('data', (d) => {
      output += d
    })
    child.stderr?.on('data', (d) => {
      output += d
    })
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.slice(-2_000)}`),
          ),
    )
  })
}

/** Compiles the peer (Maven fetches Kafka Streams the first time) and returns its classpath. */
export async function buildKafkaStreamsPeer(): Promise<string> {
  await run('mvn', ['-B', '-q', '-f', join(project, 'pom.xml'), 'compile'])
  const dependencies = (await readFile(join(buildDir, 'classpath.txt'), 'utf8')).trim()
  return `${join(buildDir, 'classes')}:${dependencies}`
}

export interface PeerRun {
  readonly appId: string
  stop(): Promise<void>
}

export async function startKafkaStreamsPeer(options: {
  classpath: string
  brokers: readonly string[]
  appId: string
  input: string
  output: string
  stateDir: string
  cacheBytes: number
}): Promise<PeerRun> {
  const java = await findJava(17, 'The Kafka Streams peer', {})
  const child: ChildProcess = spawn(
    java.bin,
    [
      '-Xmx512m',
      '-cp',
      options.classpath,
      'dev.imflow.bench.CountPeer',
      options.brokers.join(','),
      options.appId,
      options.input,
      options.output,
      options.stateDir,
      String(options.cacheBytes),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout?.on('data', (d) => {
    output += d
  })
  child.stderr?.on('data', (d) => {
    output += d
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  void exited.then((code) => {
    if (code !== 0 && code !== null && code !== 143)
      process.stderr.write(`kafka-streams peer exited ${code}:\n${output.slice(-2_000)}\n`)
  })
  return {
    appId: options.appId,
    async stop() {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      await exited
      clearTimeout(timer)
    },
  }
}

export interface PeerRates {
  cached: { rate: number; changelog: number }
  uncached: { rate: number; changelog: number }
  /** The peers' internal topics, for the benchmark to delete. */
  topics: string[]
}

/**
 * Kafka Streams' count over the same input, with its record cache as shipped and without:
 * records/s from the process start (JVM start included, as imflow's rate includes its own
 * start) until its group has committed every input record.
 */
export async function kafkaStreamsRates(
  admin: Admin,
  bench: { run: string; dir: string; input: string; output: string; records: number },
): Promise<PeerRates> {
  const classpath = await buildKafkaStreamsPeer()
  const brokers = await kafkaBrokers(admin)
  const topics: string[] = []
  const once = async (name: string, cacheBytes: number) => {
    const appId = `${bench.run}-ks-${name}`
    const started = Date.now()
    const peer = await startKafkaStreamsPeer({
      classpath,
      brokers,
      appId,
      input: bench.input,
      output: bench.output,
      stateDir: join(bench.dir, `ks-${name}`),
      cacheBytes,
    })
    try {
      await waitFor(async () => (await committed(admin, appId, bench.input)) >= bench.records)
    } finally {
      await peer.stop()
    }
    const seconds = (Date.now() - started) / 1000
    const changelog = `${appId}-counts-changelog`
    topics.push(changelog)
    return { rate: bench.records / seconds, changelog: await topicEnds(admin, changelog) }
  }
  const cached = await once('cached', KAFKA_STREAMS_DEFAULT_CACHE_BYTES)
  const uncached = await once('uncached', 0)
  return { cached, uncached, topics }
}

async function kafkaBrokers(admin: Admin): Promise<string[]> {
  const { brokers } = await admin.describeCluster()
  return brokers.map((b) => `${b.host}:${b.port}`)
}
