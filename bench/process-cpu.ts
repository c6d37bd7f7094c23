// Where the machine's CPU went during a measured window: named processes (all their threads)
// and the rest (whatever is not named: the OS, other processes), in cores busy, from /proc (Linux). A bench
// whose clients share the machine with the server says so with this: the server's figures
// are its share of the cores, not the machine's.

import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'

/** Linux' clock ticks per second (getconf CLK_TCK), which /proc counts in. */
const TICKS_PER_SECOND = 100

/** A process' user + system time so far, in ticks (fields 14 and 15 of /proc/<pid>/stat). */
function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** The machine's busy and idle ticks so far, all cores (the first line of /proc/stat). */
function machineTicks(): { busy: number; idle: number } {
  const [, ...values] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number)
  return {
    busy: (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0),
    idle: (idle ?? 0) + (iowait ?? 0),
  }
}

export interface CpuWindow {
  /** Cores busy per named process, the rest, and idle, over the window; one line. */
  stop(): string
}

/** Starts a window over the named processes (name -> pid, or the pids counted together). */
export function cpuWindow(
  processes: Readonly<Record<string, number | readonly number[]>>,
): CpuWindow {
  const names = Object.keys(processes)
  const ticks = () =>
    names.map((name) =>
      [processes[name] ?? []].flat().reduce((sum, pid) => sum + processTicks(pid), 0),
    )
  const startedAt = Date.now()
  const fromProcesses = ticks()
  const fromMachine = machineTicks()
  return {
    stop() {
      const seconds = (Date.now() - startedAt) / 1000
      const cores = (t: number) => t / TICKS_PER_SECOND / seconds
      const used = ticks().map((t, i) => t - (fromProcesses[i] ?? 0))
      const machine = machineTicks()
      const busy = machine.busy - fromMachine.busy
      const idle = machine.idle - fromMachine.idle
      const rest = busy - used.reduce((a, b) => a + b, 0)
      const parts = names.map((name, i) => `${name} ${cores(used[i] ?? 0).toFixed(2)}`)
      return `CPU, cores busy of ${cpus().length}: ${parts.join(', ')}, the rest ${cores(rest).toFixed(2)}, idle ${cores(idle).toFixed(2)}`
    },
  }
}

/** The processes `pid` started whose command line contains `marker` (e.g. stream threads). */
export function childProcesses(pid: number, marker: string): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number),
  )
  return children.filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes(marker)
    } catch {
      return false // gone meanwhile
    }
  })
}
