// The replay's phases (plan-replay.ts `phases`), each run the same way: set the groups'
// positions, start the topologies in this process, watch them until the phase is complete,
// stop them. With a journal (a replay --into), each phase is recorded as started once its
// positions are set, and a resumed run sets no position of a phase already started: the
// groups' committed offsets are how far it got, exactly once with the stores' changelogs.

import type { Admin } from 'kafkajs'
import { createMetrics } from '../../../metrics.js'
import { startTopologies, type TopologyContext } from '../../topologies.js'
import { applyPlan, type GroupPlan, phases } from './plan-replay.js'
import type { ProgressSnapshot } from './progress.js'
import type { JournalEntry } from './replay-journal.js'
import type { TopologySources } from './replay-sources.js'
import { type WatchOptions, watchReplay } from './watch-replay.js'

export interface PhaseRun {
  readonly admin: Admin
  readonly target: string
  readonly topologies: Omit<TopologyContext, 'metrics'>
  readonly sources: readonly TopologySources[]
  readonly plans: readonly GroupPlan[]
  readonly fresh: boolean
  readonly watch: WatchOptions
  /** A replay --into: where it got (a resume reads it back), and how to record progress. */
  readonly journal?: {
    readonly entry: JournalEntry
    readonly write: (entry: JournalEntry) => Promise<void>
  }
}

/** Runs the phases not yet complete; the progress over all of them (undefined: none ran). */
export async function runPhases(run: PhaseRun): Promise<ProgressSnapshot | undefined> {
  const { admin, watch } = run
  let entry = run.journal?.entry
  let final: ProgressSnapshot | undefined
  for (const [i, phase] of phases(run.plans, run.fresh).entries()) {
    if (watch.signal?.aborted) break
    const step = phaseStep(i, entry?.phasesStarted ?? 0)
    if (step === 'done') {
      final = add(final, finished(phase))
      continue
    }
    if (step === 'set') {
      await applyPlan(run.topologies.kafka, admin, phase)
      if (entry && run.journal) {
        entry = { ...entry, phasesStarted: i + 1 }
        await run.journal.write(entry)
      }
    }
    const running = await startTopologies({ ...run.topologies, metrics: createMetrics().task })
    try {
      final = add(final, await watchReplay(admin, run.target, phase, run.sources, watch))
    } finally {
      for (const s of [...running.all].reverse()) await s.stop()
    }
  }
  if (entry && run.journal && final && !watch.signal?.aborted) {
    await run.journal.write({ ...entry, complete: true })
  }
  return final
}

/**
 * What a run does with phase `i` when `started` phases had their positions set before:
 * `done` (a later one started, which happens only once this one was complete), `resume` (the
 * last one started: its groups' committed offsets are its progress, set nothing) or `set`.
 */
export function phaseStep(i: number, started: number): 'done' | 'resume' | 'set' {
  if (i < started - 1) return 'done'
  return i === started - 1 ? 'resume' : 'set'
}

function add(sum: ProgressSnapshot | undefined, next: ProgressSnapshot): ProgressSnapshot {
  return sum ? { ...next, done: sum.done + next.done, total: sum.total + next.total } : next
}

/** A phase a previous run completed: all its records done. */
function finished(phase: readonly GroupPlan[]): ProgressSnapshot {
  const records = phase.reduce((n, p) => n + p.resets.reduce((m, r) => m + r.records, 0), 0)
  return { done: records, total: records, rate: 0, partitions: [], draining: false }
}
