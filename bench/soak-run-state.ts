// What a soak run keeps in its folder (run.json) so that it can be paused (Ctrl-C: the app and
// the broker are SIGKILLed, as any fault does) or cut off, and resumed later on the same data:
// its settings, topic prefix, faults so far, time spent, and the processes it started.

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface SoakSettings {
  messages: number
  rate: number
  users: number
  groups: number
  seed: number
  appKills: number
  brokerRestarts: number
}

export interface RunState {
  settings: SoakSettings
  prefix: string
  /** The faults done, in order, as the report lists them (pauses among them). */
  faults: string[]
  /** How many of the planned faults are done. */
  faultsDone: number
  /** Legs run so far: 1 for a run never paused. */
  legs: number
  sendSeconds: number
  totalSeconds: number
  /** Processes the run started (app, broker, registry): a cut-off run may have left them. */
  pids: number[]
}

const file = (dir: string) => join(dir, 'run.json')

export function readRunState(dir: string): RunState | undefined {
  return existsSync(file(dir))
    ? (JSON.parse(readFileSync(file(dir), 'utf8')) as RunState)
    : undefined
}

export function saveRunState(dir: string, state: RunState): void {
  // Renamed into place: a run cut off while saving keeps the previous state.
  writeFileSync(`${file(dir)}.tmp`, JSON.stringify(state, null, 1))
  renameSync(`${file(dir)}.tmp`, file(dir))
}

/** SIGKILLs what a cut-off leg left running (only a JVM or a node process: pids are reused). */
export function killLeftovers(pids: readonly number[]): number {
  let killed = 0
  for (const pid of pids) {
    let command: string
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      continue // gone
    }
    if (!/java|node/.test(command)) continue
    try {
      process.kill(pid, 'SIGKILL')
      killed++
    } catch {
      // exited meanwhile
    }
  }
  return killed
}
