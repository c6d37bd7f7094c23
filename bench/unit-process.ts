// A unit of the units benchmark as its own process (`imflow start`, or `imflow unit failover`
// on a standby's empty data folder): units are separate deployments, so the two units of a
// move do not share one event loop, and a unit can be SIGKILLed.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../ops/ports.js'
import { waitFor } from './broker.js'

export interface UnitProcess {
  child: ChildProcess
  url: string
  /** When its /readyz first answered 200 (ms since the epoch). */
  readyAt: number
  /** SIGINT (or SIGKILL when `kill`), then its data folder removed. */
  stop(kill?: boolean): Promise<void>
}

export async function startUnitProcess(
  command: string[],
  env: Record<string, string>,
  readyWithinMs = 300_000,
): Promise<UnitProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'imflow-bench-unit-'))
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'ops/app/bin.ts', ...command], {
    env: {
      ...process.env,
      ...env,
      IMFLOW_DATA_DIR: dir,
      IMFLOW_PORT: String(port),
      IMFLOW_STREAM_THREADS: '1',
      IMFLOW_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const stop = async (kill = false) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(kill ? 'SIGKILL' : 'SIGINT')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  }
  const url = `http://127.0.0.1:${port}`
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`${command.join(' ')} exited ${child.exitCode}`)
      return (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200
    }, readyWithinMs)
  } catch (err) {
    await stop(true)
    throw err
  }
  return { child, url, readyAt: Date.now(), stop }
}
