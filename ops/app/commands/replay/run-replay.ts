// One replay, start to end: check nobody runs in the groups to be moved, plan the reset, then
// (unless a dry run) set the groups' positions and run the topologies in this process until
// the replay is complete, showing its progress. Into the live app id the stores stay: records
// the app has seen come back as duplicates its identity stores answer (same msgId, no second
// delivery). Into a new app id everything is fresh (stores, changelogs, internal topics), the
// inputs are the live ones, and the outputs go to shadow topics `<prefix><into>.<topic>`, so
// live consumers never see a replayed record and `imflow digest` can compare the two runs.

import { registerContract } from '../../../../schemas/contract.js'
import { registrySchemaSource } from '../../../../schemas/schema-source.js'
import { type ContractTopic, contractTopics, topicName } from '../../../../schemas/topics.js'
import { internalTopic } from '../../../../topologies/runtime/index.js'
import { ImflowError } from '../../../errors.js'
import type { Config } from '../../config.js'
import { provisionModuleTopics, provisionTopics, runtimeId } from '../../provision-topics.js'
import { storeLogs, topologyGroup, topologyNames } from './app-logs.js'
import { assertNoActiveMembers, awaitNoActiveMembers } from './group-guard.js'
import { type GroupPlan, phases, planReplay } from './plan-replay.js'
import { type ProgressSnapshot, progressLine } from './progress.js'
import {
  assertSameArguments,
  type JournalEntry,
  type ReplayArguments,
  readJournal,
  writeJournal,
} from './replay-journal.js'
import { runPhases } from './replay-phases.js'
import { INPUT_TOPICS, topologySources } from './replay-sources.js'
import type { Position } from './reset-plan.js'
import type { Deployment } from './tool-config.js'

export interface ReplayOptions {
  readonly from: Position
  readonly to?: Position
  readonly topologies: readonly string[]
  /** A new app id to replay into (a shadow run); undefined: the live app id. */
  readonly into?: string
  readonly dryRun?: boolean
  readonly write: (text: string) => void
  readonly tty?: boolean
  readonly signal?: AbortSignal
  readonly progressIntervalMs?: number
}

export interface ReplayResult {
  readonly plans: readonly GroupPlan[]
  /** Undefined for a dry run. */
  readonly final?: ProgressSnapshot
  readonly elapsedMs: number
}

/** Where a shadow run's outputs go: `<prefix><into>.<topic>`; its inputs stay the live ones. */
export function shadowTopic(config: Config, into: string) {
  return (base: ContractTopic) =>
    (INPUT_TOPICS as readonly string[]).includes(base)
      ? topicName(config.topicPrefix, base)
      : topicName(`${config.topicPrefix}${into}.`, base)
}

/**
 * The shadow's configuration: its own app id, nothing forwarded to other geos or units.
 * Shaping stays as live: it decides by the records' time, so the shadow throttles what the
 * live app throttled, however fast it runs (docs/shaping.md). Only the adaptive capacity is
 * off: it follows the lag in real time, which a replay does not have (docs/replay.md).
 */
export function shadowConfig(config: Config, into: string): Config {
  return { ...config, appId: into, remoteGeos: {}, remoteUnits: {}, shapingTargetLatencyMs: 0 }
}

function checkInto(config: Config, into: string | undefined): void {
  if (into === undefined) return
  // Its topics must not read as the live app's: `<appId>-<topology>-...` names a live store.
  const clash = topologyNames.map((t) => `${config.appId}-${t}`)
  if (
    !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(into) ||
    into === config.appId ||
    clash.some((c) => into === c || into.startsWith(`${c}-`))
  ) {
    throw new ImflowError(
      'IMF_ERR_USAGE',
      `--into ${into}: expected a new app id (letters, digits, . _ -) that is not ${config.appId} and does not start with ${config.appId}-<topology>-`,
    )
  }
}

export async function runReplay(d: Deployment, options: ReplayOptions): Promise<ReplayResult> {
  const started = Date.now()
  const { config: live, admin, kafka, log } = d
  checkInto(live, options.into)
  const config = options.into === undefined ? live : shadowConfig(live, options.into)
  const contractTopic = options.into === undefined ? undefined : shadowTopic(live, options.into)
  const target = runtimeId(config)
  const groups = topologyNames.map((t) => topologyGroup(target, t))
  const args = {
    from: options.from,
    topologies: options.topologies,
    ...(options.to ? { to: options.to } : {}),
  }
  const journal = await priorReplay(d, target, args, options.into)
  const schemas = registrySchemaSource(d.infrastructure.schemaRegistryUrl)
  const codecs = await registerContract(schemas, live.topicPrefix)
  const base = {
    config,
    kafka,
    codecs,
    schemas,
    log,
    // A shadow follows the live app's limits document (PUT /v1/limits), not a new one.
    ...(contractTopic
      ? { contractTopic, limitsTopic: internalTopic(runtimeId(live), 'limits') }
      : {}),
  }
  const sources = await topologySources(base)
  const fresh = options.into !== undefined
  const plans = journal?.plans ?? (await planReplay(admin, sources, { ...args, fresh }, target))
  if (options.dryRun) {
    const running = await assertNoActiveMembers(admin, groups).then(
      () => '',
      (err: Error) => `\nNote: a replay now would be refused: ${err.message}\n`,
    )
    const resume = journal ? `\n${resuming(journal, options.into)}` : ''
    options.write(`${planTable(plans)}${resume}\n${running}`)
    return { plans, elapsedMs: Date.now() - started }
  }
  if (journal?.complete) {
    options.write(`${resuming(journal, options.into)}\n`)
    return { plans, elapsedMs: Date.now() - started }
  }
  if (journal) {
    options.write(`${resuming(journal, options.into)}\n`)
    await awaitNoActiveMembers(admin, groups, 30_000, () =>
      options.write("waiting for the interrupted replay's consumers to leave its groups\n"),
    )
  } else await assertNoActiveMembers(admin, groups)
  const entry = journal ?? { args, plans, phasesStarted: 0, complete: false }
  const record = (e: JournalEntry) =>
    writeJournal(kafka, admin, target, e, config.replicationFactor)
  if (fresh && !journal) await record(entry)
  if (contractTopic) {
    const outputs = contractTopics.filter(
      (t) => !(INPUT_TOPICS as readonly string[]).includes(t.base),
    )
    await provisionTopics(
      admin,
      { ...config, topicPrefix: `${live.topicPrefix}${options.into}.`, topics: outputs },
      log,
    )
  }
  await provisionModuleTopics(admin, config, log)
  const final = await runPhases({
    admin,
    target,
    topologies: base,
    sources,
    plans,
    fresh,
    watch: {
      intervalMs: options.progressIntervalMs ?? 1_000,
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: reporter(options),
    },
    ...(fresh ? { journal: { entry, write: record } } : {}),
  })
  return { plans, ...(final ? { final } : {}), elapsedMs: Date.now() - started }
}

/**
 * A replay --into that went into the id before with the same arguments (its journal), to be
 * resumed; undefined for a new one. Refuses an id with state and no journal (not a replay's),
 * and a journal of other arguments.
 */
async function priorReplay(
  d: Deployment,
  target: string,
  args: ReplayArguments,
  into: string | undefined,
): Promise<JournalEntry | undefined> {
  if (into === undefined) return undefined
  const journal = await readJournal(d.kafka, d.admin, target)
  if (journal) {
    assertSameArguments(journal, args, into)
    return journal
  }
  if (storeLogs(await d.admin.listTopics(), target, topologyNames).length > 0) {
    throw new ImflowError(
      'IMF_ERR_USAGE',
      `--into ${into}: that app id has state already (its changelogs exist) and no replay journal; replay into a new one, or delete its topics first`,
    )
  }
  return undefined
}

function resuming(journal: JournalEntry, into: string | undefined): string {
  if (journal.complete) return `The replay into ${into} is complete already; nothing to do.`
  const phase = Math.max(1, journal.phasesStarted)
  const of = phases(journal.plans, true).length
  return `Resuming the interrupted replay into ${into} (phase ${phase} of ${of}): positions and stop offsets as it left them, nothing reset again.`
}

/** Progress: redrawn on a terminal, a line every 5 s (and the last) otherwise. */
function reporter(options: ReplayOptions): (s: ProgressSnapshot) => void {
  let lastLine = 0
  return (s) => {
    if (options.tty) {
      options.write(`\r${progressLine(s, true, process.stdout.columns ?? 100)}\x1b[K`)
    } else if (Date.now() - lastLine >= 5_000 || (!s.draining && s.done >= s.total)) {
      lastLine = Date.now()
      options.write(`${progressLine(s, false)}\n`)
    }
  }
}

/** What a dry run prints: each group's partitions, where they would start and end. */
export function planTable(plans: readonly GroupPlan[]): string {
  const rows = plans.flatMap((p) =>
    p.resets.map((r) => [
      p.groupId,
      r.topic,
      String(r.partition),
      String(r.from),
      String(r.to),
      String(r.records),
    ]),
  )
  const head = ['group', 'topic', 'partition', 'from', 'to', 'records']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (r: string[]) =>
    r
      .map((v, i) => (i >= 2 ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd()
  const total = rows.reduce((n, r) => n + Number(r[5]), 0)
  return [line(head), ...rows.map(line), `${total} records would be replayed`].join('\n')
}
