// A JVM server run as a child process: its output goes to a log file (the last lines are
// kept for error messages), it dies with us, and it stops with SIGTERM, then SIGKILL.

import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { readFile, readlink, rm, writeFile } from 'node:fs/promises'
import type { Logger } from '../log.js'

export interface JvmProcessOptions {
  name: string
  java: string
  args: string[]
  env?: NodeJS.ProcessEnv
  cwd: string
  logFile: string
  /** Written with the pid, so a later start can reap a JVM that outlived its parent. */
  pidFile: string
  log: Logger
}

/** What every embedded server's launcher takes. */
export interface EmbeddedServerOptions {
  port: number
  /** Holds the server's data and config; reused across restarts. */
  dataDir: string
  heap?: string
  javaHome?: string | undefined
  startTimeoutMs?: number
  log: Logger
}

export interface JvmProcess {
  readonly name: string
  readonly pid: number
  /** The exit code, or null when killed by a signal; resolves when the process is gone. */
  readonly exited: Promise<number | null>
  readonly hasExited: () => boolean
  /** The last lines the JVM printed, for error messages. */
  logTail(lines?: number): string
  stop(timeoutMs?: number): Promise<void>
}

const TAIL_LINES = 200

/**
 * Linux's parent-death signal: setpriv asks the kernel to SIGTERM the JVM when this Node
 * process dies — even by SIGKILL, when no handler of ours can run. That is what keeps an
 * interrupted `npm start` or test run from leaving an orphan JVM behind.
 */
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))

export async function spawnJvm(options: JvmProcessOptions): Promise<JvmProcess> {
  const { name, log } = options
  await reapStale(options.pidFile, options.cwd, log)
  const [command, args] = setpriv
    ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', options.java, ...options.args]]
    : [options.java, options.args]
  if (!setpriv) log.warn('setpriv not found: a JVM may outlive a killed imflow', { name })

  const out = createWriteStream(options.logFile, { flags: 'a' })
  const tail: string[] = []
  let partial = ''
  const collect = (chunk: Buffer) => {
    out.write(chunk)
    const lines = (partial + chunk.toString('utf8')).split('\n')
    partial = lines.pop() ?? ''
    tail.push(...lines)
    if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES)
  }

  // detached: the JVM gets its own process group, so a Ctrl-C in the terminal reaches only
  // us, and we stop the servers in order (the app first, then Kafka and the registry).
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pid = child.pid
  if (pid === undefined) {
    // spawn reports ENOENT asynchronously; wait for it to give the real reason.
    const err = await new Promise<Error>((resolve) => child.once('error', resolve))
    throw err
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  let done = false
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      done = true
      out.end()
      resolve(code)
    })
  })
  await writeFile(options.pidFile, `${pid}\n`)
  void exited.then(() => rm(options.pidFile, { force: true }))
  log.debug('started', { name, pid })

  return {
    name,
    pid,
    exited,
    hasExited: () => done,
    logTail: (lines = 30) => [...tail, partial].filter(Boolean).slice(-lines).join('\n'),
    async stop(timeoutMs = 20_000) {
      if (done) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => {
        log.warn('did not stop after SIGTERM; sending SIGKILL', { name, pid, timeoutMs })
        child.kill('SIGKILL')
      }, timeoutMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Kills a JVM left running from an earlier run with the same working folder. */
async function reapStale(pidFile: string, cwd: string, log: Logger): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim())
  if (!Number.isInteger(pid) || pid <= 0) return
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
  const procCwd = await readlink(`/proc/${pid}/cwd`).catch(() => '')
  if (cmdline.includes('java') && procCwd === cwd) {
    log.warn('killing a server left running by an earlier run', { pid, pidFile })
    process.kill(pid, 'SIGKILL')
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await rm(pidFile, { force: true })
}
