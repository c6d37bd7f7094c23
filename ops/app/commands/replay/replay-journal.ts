// A replay `--into` a new app id keeps a journal in Kafka, `<prefix><id>-replay-journal` (one
// partition, compacted, the latest entry wins): its arguments, the plan they resolved to (the
// start and stop offsets of every partition, fixed when it began) and how far its phases got.
// A second run with the same arguments reads it and resumes: the positions of a phase already
// started are what the topologies committed, exactly once with their stores, so they are never
// reset again; `--to` keeps the stop offsets of the first run, not the inputs' ends of now.

import type { Admin, Kafka } from 'kafkajs'
import { internalTopic } from '../../../../topologies/runtime/index.js'
import { ImflowError } from '../../../errors.js'
import { createMissingTopics } from '../../../kafka-admin.js'
import type { GroupPlan } from './plan-replay.js'
import { partitionEnds, readToEnd } from './read-to-end.js'
import type { Position } from './reset-plan.js'

export interface ReplayArguments {
  readonly from: Position
  readonly to?: Position
  readonly topologies: readonly string[]
}

export interface JournalEntry {
  readonly args: ReplayArguments
  readonly plans: readonly GroupPlan[]
  /** Phases whose positions were set: only the last of them may be unfinished. */
  readonly phasesStarted: number
  readonly complete: boolean
}

export function journalTopic(runtimeId: string): string {
  return internalTopic(runtimeId, 'replay-journal')
}

/** The journal's latest entry; undefined when the app id has none (no replay went into it). */
export async function readJournal(
  kafka: Kafka,
  admin: Admin,
  runtimeId: string,
): Promise<JournalEntry | undefined> {
  const topic = journalTopic(runtimeId)
  if (!(await admin.listTopics()).includes(topic)) return undefined
  let latest: Buffer | undefined
  await readToEnd(kafka, await partitionEnds(admin, [topic]), (_t, _p, _k, value) => {
    if (value) latest = value
  })
  return latest ? (JSON.parse(latest.toString('utf8')) as JournalEntry) : undefined
}

/** Appends an entry (creating the journal's topic the first time). */
export async function writeJournal(
  kafka: Kafka,
  admin: Admin,
  runtimeId: string,
  entry: JournalEntry,
  replicationFactor: number,
): Promise<void> {
  const topic = journalTopic(runtimeId)
  await createMissingTopics(admin, [
    {
      topic,
      numPartitions: 1,
      replicationFactor,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
  ])
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: 'replay', value: JSON.stringify(entry) }],
    })
  } finally {
    await producer.disconnect()
  }
}

/** The arguments as they are compared: topologies in a set's order, no --to as null. */
function canonical(args: ReplayArguments): string {
  return JSON.stringify([args.from, args.to ?? null, [...new Set(args.topologies)].sort()])
}

export function describeArguments(args: ReplayArguments): string {
  const position = (p: Position) =>
    p.kind === 'offset' ? String(p.offset) : new Date(p.ms).toISOString()
  return [
    `--from ${position(args.from)}`,
    ...(args.to ? [`--to ${position(args.to)}`] : []),
    ...[...new Set(args.topologies)].sort().map((t) => `--topology ${t}`),
  ].join(' ')
}

/** Throws IMF_ERR_USAGE unless `args` are the journal's: another replay is not a resume. */
export function assertSameArguments(
  journal: JournalEntry,
  args: ReplayArguments,
  into: string,
): void {
  if (canonical(journal.args) === canonical(args)) return
  throw new ImflowError(
    'IMF_ERR_USAGE',
    `--into ${into}: a replay ${journal.complete ? 'went' : 'was interrupted going'} into that app id with other arguments (${describeArguments(journal.args)}). Run it with those to ${journal.complete ? 'see it is complete' : 'resume it'}, or replay into another app id (or delete its topics <prefix>${into}-*, <prefix>${into}.im.* and its state folder first).`,
  )
}
