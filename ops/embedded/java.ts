// Finds a Java runtime for an embedded server. Kafka 4 needs Java 17+, Apicurio Registry 3.3
// needs 21+; a machine often has several JDKs, so we look beyond the first `java` on PATH.

import { execFile } from 'node:child_process'
import { access, readdir, realpath } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { ImflowError } from '../errors.js'

const run = promisify(execFile)

export interface JavaRuntime {
  readonly bin: string
  readonly major: number
}

export interface FindJavaOptions {
  /** Only this JDK is considered (IMFLOW_JAVA_HOME). */
  javaHome?: string | undefined
  env?: NodeJS.ProcessEnv
  /** Folders whose children are JDKs. */
  jvmRoots?: string[]
}

/** Parses the major version out of `java -version` output ("17.0.15", "1.8.0_392", "25"). */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(versionOutput)
  if (!m) return undefined
  const first = Number(m[1])
  return first === 1 && m[2] !== undefined ? Number(m[2]) : first
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

async function candidates(options: FindJavaOptions): Promise<string[]> {
  if (options.javaHome) return [join(options.javaHome, 'bin', 'java')]
  const env = options.env ?? process.env
  const found: string[] = []
  if (env.JAVA_HOME) found.push(join(env.JAVA_HOME, 'bin', 'java'))
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) found.push(join(dir, 'java'))
  for (const root of options.jvmRoots ?? ['/usr/lib/jvm']) {
    const entries = await readdir(root).catch(() => [] as string[])
    for (const entry of entries.sort().reverse()) found.push(join(root, entry, 'bin', 'java'))
  }
  const unique = new Map<string, string>()
  for (const bin of found) {
    if (!(await exists(bin))) continue
    const real = await realpath(bin)
    if (!unique.has(real)) unique.set(real, bin)
  }
  return [...unique.values()]
}

async function versionOf(bin: string): Promise<number | undefined> {
  try {
    const { stderr, stdout } = await run(bin, ['-version'], { timeout: 15_000 })
    return parseJavaMajor(`${stderr}\n${stdout}`)
  } catch {
    return undefined
  }
}

/** The first Java at least `minMajor`, in the order: IMFLOW_JAVA_HOME | JAVA_HOME, PATH, jvmRoots. */
export async function findJava(
  minMajor: number,
  purpose: string,
  options: FindJavaOptions = {},
): Promise<JavaRuntime> {
  const seen: string[] = []
  for (const bin of await candidates(options)) {
    const major = await versionOf(bin)
    if (major === undefined) continue
    if (major >= minMajor) return { bin, major }
    seen.push(`${bin} (Java ${major})`)
  }
  const where = options.javaHome
    ? `IMFLOW_JAVA_HOME=${options.javaHome} has no usable bin/java`
    : 'searched JAVA_HOME, PATH and /usr/lib/jvm'
  throw new ImflowError(
    'IMF_ERR_JAVA_MISSING',
    `${purpose} needs Java ${minMajor} or newer, and none was found (${where}${seen.length ? `; found only ${seen.join(', ')}` : ''}). Install a JDK ${minMajor}+ and set IMFLOW_JAVA_HOME to it, or point imflow at servers you run yourself (KAFKA_BROKERS, SCHEMA_REGISTRY_URL).`,
  )
}
