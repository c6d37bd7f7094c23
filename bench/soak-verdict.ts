// The soak's report: the receipts (lost, doubled), every user's and conversation's state
// read back through the API (soak-checks.ts), and the dead letters, as markdown.

import { readFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import type { Kafka } from 'kafkajs'
import { issueToken } from '../connectors/http/jwt.js'
import type { ContractCodecs } from '../schemas/contract.js'
import type { DeadLetter } from '../schemas/types.generated.js'
import { waitFor } from './broker.js'
import { checkConversation, checkUser, noProblems, unexplainedLetters } from './soak-checks.js'
import type { Workload } from './workload.js'

export interface VerdictInput {
  url: string
  secret: string
  /** clientMsgId -> its Accepted receipts (more than one: the message was sent again). */
  accepted: ReadonlyMap<string, readonly { msgId: string; at: string }[]>
  refused: ReadonlyMap<string, string>
  workload: Workload
  /** The workload's messages im.ingest holds, by index (a paused run's cut batch may lack some). */
  written: ReadonlySet<number>
  kafka: Kafka
  codecs: ContractCodecs
  topic: (base: string) => string
  garbage: Buffer
  garbageSent: number
  faults: readonly string[]
  settings: string
  sendSeconds: number
  totalSeconds: number
  /** The app's log over all legs. */
  appLog: string
}

/** Source partitions a task opened past the group's offset, an older commit of its own (docs/reliability.md). */
async function staleGroupOffsets(appLog: string): Promise<number> {
  const text = await readFile(appLog, 'utf8').catch(() => '')
  return text.match(/answered an older commit than the task's own/g)?.length ?? 0
}

/**
 * Every dead letter of the run. High watermarks count transaction markers too, so the topic is
 * read until it has given nothing new for five seconds after the first fetch.
 */
async function deadLetters(input: VerdictInput): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = []
  const consumer = input.kafka.consumer({ groupId: `soak-letters-${Date.now()}` })
  let fetched = false
  let lastNews = Date.now()
  consumer.on(consumer.events.FETCH, () => {
    fetched = true
  })
  await consumer.connect()
  await consumer.subscribe({ topic: input.topic('im.dead-letter'), fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      letters.push(await input.codecs['im.dead-letter'].decode(message.value as Buffer))
      lastNews = Date.now()
    },
  })
  try {
    await waitFor(async () => fetched && Date.now() - lastNews > 5_000, 300_000)
  } finally {
    await consumer.disconnect()
  }
  return letters
}

export async function verdict(input: VerdictInput): Promise<{ ok: boolean; report: string }> {
  const { workload, accepted } = input
  const lost = [...input.written].filter((i) => !accepted.has(`s-${i}`)).length
  const neverWritten = workload.messages.length - input.written.size
  const doubled = [...accepted].filter(([, list]) => new Set(list.map((r) => r.msgId)).size > 1)
  const doubledIds = doubled.length
  // What each conversation holds: the msgId each of its messages was accepted with.
  const byConversation = new Map<string, Set<string>>(workload.groups.map((g) => [g.id, new Set()]))
  workload.messages.forEach((m, i) => {
    const id = accepted.get(`s-${i}`)?.[0]?.msgId
    if (id) byConversation.get(m.conversationId)?.add(id)
  })
  const get = async (path: string, user: string) => {
    const token = issueToken({ sub: user }, input.secret)
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${input.url}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      })
      if (res.ok) return res.json()
      if (attempt >= 20)
        throw new Error(`GET ${path} as ${user}: ${res.status} ${await res.text()}`)
      await new Promise((r) => setTimeout(r, 500))
    }
  }
  const problems = noProblems()
  for (const [clientMsgId, list] of doubled.slice(0, 10))
    problems.examples.push(
      `${clientMsgId} accepted as ${list.map((r) => `${r.msgId} (receipt ${r.at})`).join(', ')}`,
    )
  const conversationsOf = new Map<string, string[]>()
  for (const g of workload.groups)
    for (const m of g.members) conversationsOf.set(m, [...(conversationsOf.get(m) ?? []), g.id])
  let users = 0
  for (const [user, cids] of conversationsOf) {
    const expected = new Map(cids.map((c) => [c, byConversation.get(c) ?? new Set<string>()]))
    await checkUser(get, user, expected, problems)
    if (++users % 200 === 0)
      process.stderr.write(`soak: checked ${users}/${conversationsOf.size} users' clients\n`)
  }
  for (const g of workload.groups)
    await checkConversation(
      get,
      g.id,
      g.members[0] as string,
      byConversation.get(g.id) ?? new Set(),
      problems,
    )
  const letters = await deadLetters(input)
  const unexplained = unexplainedLetters(letters, input.topic('im.ingest'), input.garbage)
  const ok =
    lost === 0 &&
    doubledIds === 0 &&
    input.refused.size === 0 &&
    problems.missing + problems.doubled + problems.ptsInversions + problems.seqInversions === 0 &&
    problems.unexpected + problems.rebased === 0 &&
    unexplained.length === 0 &&
    letters.length === input.garbageSent
  const rows = [
    ['messages sent', input.written.size],
    ['messages never written (a pause cut their batch short)', neverWritten],
    ['average recipients a message', workload.averageFanOut.toFixed(1)],
    ['accepted (a receipt)', accepted.size],
    ['lost (no Accepted receipt)', lost],
    ['accepted under two msgIds', doubledIds],
    ['refused or throttled', input.refused.size],
    ['users whose client state was checked', users],
    ['messages missing from a client or a history', problems.missing],
    ['messages doubled in a client or a history', problems.doubled],
    ['per-user PTS inversions', problems.ptsInversions],
    ['per-conversation order inversions (a sender’s messages)', problems.seqInversions],
    ['messages held that should not be', problems.unexpected],
    ['users needing a Rebase', problems.rebased],
    ['dead letters', letters.length],
    ['garbage records written (each must be a dead letter)', input.garbageSent],
    ['dead letters not explained', unexplained.length],
    [
      'task opens past a stale group offset (guarded, not a failure)',
      await staleGroupOffsets(input.appLog),
    ],
  ]
  const report = [
    `# Soak: ${ok ? 'PASS' : 'FAIL'}`,
    '',
    `${input.settings}; sending took ${input.sendSeconds.toFixed(0)} s, the whole run ${input.totalSeconds.toFixed(0)} s; ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)} at the end.`,
    '',
    '| Check | Value |',
    '| --- | --- |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '## Faults',
    '',
    ...input.faults.map((f) => `- ${f}`),
    ...(problems.examples.length
      ? ['', '## Examples of problems', '', ...problems.examples.map((e) => `- ${e}`)]
      : []),
    ...(unexplained.length
      ? [
          '',
          '## Unexplained dead letters',
          '',
          ...unexplained
            .slice(0, 10)
            .map((l) => `- ${l.sourceTopic} ${l.errorCode} ${l.stage}: ${l.errorMessage}`),
        ]
      : []),
    '',
  ].join('\n')
  return { ok, report }
}
