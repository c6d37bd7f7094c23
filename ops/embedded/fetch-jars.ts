// Fetches the embedded servers' jars from Maven Central with Maven (ops/embedded/pom.xml), once: the
// result is cached in .imflow/jars and reused. Progress goes to the log as artifacts arrive.

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ImflowError } from '../errors.js'
import type { Logger } from '../log.js'

/** The folder holding package.json, whether we run from source (tsx) or from dist/ (built). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (
    !existsSync(join(dir, 'package.json')) ||
    !existsSync(join(dir, 'ops', 'embedded', 'pom.xml'))
  ) {
    const parent = dirname(dir)
    if (parent === dir)
      throw new ImflowError(
        'IMF_ERR_JARS_FETCH',
        'imflow: cannot find the project root (ops/embedded/pom.xml)',
      )
    dir = parent
  }
  return dir
}

export interface ServerJars {
  /** Classpath entry for the broker: every jar of Kafka's runtime. */
  readonly kafkaClasspath: string
  readonly kafkaVersion: string
  /** The Quarkus fast-jar launcher of Apicurio Registry. */
  readonly registryJar: string
  readonly registryVersion: string
}

async function pomProperty(pom: string, name: string): Promise<string> {
  const m = new RegExp(`<${name}>([^<]+)</${name}>`).exec(await readFile(pom, 'utf8'))
  if (!m?.[1])
    throw new ImflowError('IMF_ERR_JARS_FETCH', `ops/embedded/pom.xml has no <${name}> property`)
  return m[1]
}

/** Fetches what is missing (Kafka, the registry, or both) and returns where the jars are. */
export async function ensureJars(
  log: Logger,
  need: { kafka: boolean; registry: boolean } = { kafka: true, registry: true },
): Promise<ServerJars> {
  const root = projectRoot()
  const pom = join(root, 'ops', 'embedded', 'pom.xml')
  const kafkaVersion = await pomProperty(pom, 'kafka.version')
  const registryVersion = await pomProperty(pom, 'apicurio.version')
  const jarsDir = join(root, '.imflow', 'jars')
  const kafkaDir = join(jarsDir, `kafka-${kafkaVersion}`)
  const registryDir = join(jarsDir, `apicurio-${registryVersion}`)
  const jars: ServerJars = {
    kafkaClasspath: join(kafkaDir, '*'),
    kafkaVersion,
    registryJar: join(registryDir, 'quarkus-run.jar'),
    registryVersion,
  }
  // A marker written after Maven succeeded: a half-finished download is fetched again.
  const fetches = [
    {
      wanted: need.kafka,
      dir: kafkaDir,
      expect: join(kafkaDir, `kafka_2.13-${kafkaVersion}.jar`),
      execution: 'copy-dependencies@kafka',
      what: `Apache Kafka ${kafkaVersion}`,
    },
    {
      wanted: need.registry,
      dir: registryDir,
      expect: jars.registryJar,
      execution: 'unpack@registry',
      what: `Apicurio Registry ${registryVersion}`,
    },
  ]
  for (const f of fetches) {
    if (!f.wanted || existsSync(join(f.dir, '.complete'))) continue
    log.info(`fetching ${f.what} from Maven Central (first run only)`, { into: f.dir })
    await runMaven(pom, `dependency:${f.execution}`, log)
    if (!existsSync(f.expect)) {
      throw new ImflowError(
        'IMF_ERR_JARS_FETCH',
        `Maven finished but ${f.expect} is missing; delete ${jarsDir} and run \`imflow fetch-jars\` again.`,
      )
    }
    await writeFile(join(f.dir, '.complete'), `${new Date().toISOString()}\n`)
    log.info(`fetched ${f.what}`)
  }
  return jars
}

async function runMaven(pom: string, goal: string, log: Logger): Promise<void> {
  const started = Date.now()
  let downloaded = 0
  const output: string[] = []
  const child = spawn('mvn', ['-B', '-f', pom, goal], { stdio: ['ignore', 'pipe', 'pipe'] })
  const onLine = (line: string) => {
    output.push(line)
    if (output.length > 40) output.shift()
    const m = /Downloaded from \S+: (\S+) \(([^)]+)\)/.exec(line)
    if (m?.[1]) {
      downloaded++
      if (/\.(jar|zip|tar\.gz)$/.test(m[1]) || downloaded % 25 === 0) {
        log.info(`  downloaded ${downloaded} files; latest ${m[1].split('/').pop()} (${m[2]})`)
      }
    }
  }
  let buffered = ''
  const onData = (chunk: Buffer) => {
    const lines = (buffered + chunk.toString('utf8')).split('\n')
    buffered = lines.pop() ?? ''
    lines.forEach(onLine)
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(
          new ImflowError(
            'IMF_ERR_JARS_FETCH',
            'Maven (mvn) is not installed; it fetches the embedded Kafka and registry. Install it (apt-get install maven) or set KAFKA_BROKERS and SCHEMA_REGISTRY_URL to servers you run yourself.',
          ),
        )
      } else reject(err)
    })
    child.once('exit', resolve)
  })
  if (code !== 0) {
    throw new ImflowError(
      'IMF_ERR_JARS_FETCH',
      `mvn ${goal} failed (exit ${code}); is Maven Central reachable? Its last lines:\n${output.slice(-15).join('\n')}`,
    )
  }
  log.info(`  ${downloaded} files fetched in ${((Date.now() - started) / 1000).toFixed(1)}s`)
}
