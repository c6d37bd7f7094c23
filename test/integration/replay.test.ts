// `imflow replay` through the real broker and registry: traffic through an in-process imflow,
// a replay refused while it runs, then, stopped, a dry run and a replay --into a new app id
// whose stores' digests equal the original's (docs/replay.md).

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { digestApp } from '../../ops/app/commands/replay/digest-app.js'
import { runReplay } from '../../ops/app/commands/replay/run-replay.js'
import { connect, type Deployment } from '../../ops/app/commands/replay/tool-config.js'
import { loadConfig } from '../../ops/app/config.js'
import { isImflowError } from '../../ops/errors.js'
import { silentLogger } from '../../ops/log.js'
import { type ContractCodecs, registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type { Receipt } from '../../schemas/types.generated.js'
import { partitionForKey } from '../../topologies/runtime/index.js'
import { eventually, startTestApp, testKafka, unique } from './helpers.js'

const members = ['ann', 'ben', 'cy', 'dee']
const conversations = ['team', 'ops', 'ann~ben', 'all-hands']

describe('imflow replay', () => {
  const prefix = `${unique('rpl')}.`
  const kafka = testKafka()
  let codecs: ContractCodecs
  let deployment: Deployment
  let dataDir: string
  let app: Awaited<ReturnType<typeof startTestApp>> | undefined

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'imflow-replay-'))
    codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), prefix)
    const config = loadConfig({
      KAFKA_BROKERS: inject('kafkaBrokers').join(','),
      SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
      IMFLOW_TOPIC_PREFIX: prefix,
      IMFLOW_DATA_DIR: dataDir,
      IMFLOW_PARTITIONS: '2',
    })
    deployment = await connect(config, silentLogger)
  })
  afterAll(async () => {
    await app?.stop()
    await deployment?.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('refuses while the app runs; into a new app id gives equal digests, into the live one changes none', async () => {
    // All on one receiver partition: two receiver tasks' hand-offs to one user interleave in
    // the order they happen to arrive, live or replayed (docs/replay.md).
    expect(new Set(conversations.map((c) => partitionForKey(c, 2))).size).toBe(1)
    app = await startTestApp(prefix)
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    await producer.send({
      topic: `${prefix}im.conversations`,
      messages: conversations.map((c, i) => ({
        key: c,
        value: codecs['im.conversations'].encode({
          conversationId: c,
          actorId: 'admin',
          at: Date.now(),
          change: {
            kind: 'ConversationCreated',
            conversationType: c.includes('~') ? 'SINGLE' : 'GROUP',
            members: c.includes('~') ? ['ann', 'ben'] : members.slice(0, 2 + (i % 3)),
            admins: ['ann'],
            unit: '',
          },
        }),
      })),
    })
    // The conversations exist before their messages come: a task reads its topics in the order
    // their batches arrive, so a message fetched first would find no conversation.
    const applied = async () => {
      const topic = `${prefix}im.conversations`
      const [done] = await deployment.admin.fetchOffsets({
        groupId: `${prefix}imflow-receiver`,
        topics: [topic],
      })
      const ends = await deployment.admin.fetchTopicOffsets(topic)
      // A partition with no record has nothing to apply (its committed offset stays -1).
      const caughtUp = (e: { partition: number; high: string }) =>
        Number(e.high) === 0 ||
        Number(done?.partitions.find((p) => p.partition === e.partition)?.offset) >= Number(e.high)
      return ends.every(caughtUp) ? true : undefined
    }
    await eventually(applied, { timeoutMs: 120_000, what: 'the conversations to be applied' })
    const sent = 60
    for (let i = 0; i < sent; i++) {
      const conversationId = conversations[i % conversations.length] as string
      await producer.send({
        topic: `${prefix}im.ingest`,
        messages: [
          {
            key: conversationId,
            value: codecs['im.ingest'].encode({
              conversationId,
              clientMsgId: `c${i}`,
              senderId: i % 5 === 4 ? 'ben' : 'ann',
              type: 'TEXT',
              body: `message ${i}`,
              priority: 'HIGH',
              visibility: 'NORMAL',
              targets: [],
              sentAt: Date.now(),
            }),
          },
        ],
      })
    }
    const receipts = await readReceipts(`${prefix}im.receipts`, sent)
    // Every message HIGH, and no read receipts: what the replay cannot reproduce yet (LOW's
    // wall-clock drain, a task's topics read in arrival order) is in docs/replay.md.
    expect(receipts.every((r) => r.outcome.kind === 'Accepted')).toBe(true)
    await producer.disconnect()
    await eventually(() => settled(`${prefix}imflow`), {
      timeoutMs: 90_000,
      what: 'the app to settle',
    })

    // While it runs: refused, with the typed error; a dry run says so too.
    const refused = await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: ['receiver'],
      write: () => {},
    }).catch((err: unknown) => err)
    expect(isImflowError(refused, 'IMF_ERR_APP_RUNNING')).toBe(true)
    expect((refused as Error).message).toContain(`${prefix}imflow-receiver`)
    let dryRun = ''
    await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: ['receiver'],
      dryRun: true,
      write: (t) => {
        dryRun += t
      },
    })
    expect(dryRun).toMatch(
      new RegExp(
        `${prefix.replace('.', '\\.')}imflow-receiver +${prefix.replace('.', '\\.')}im\\.ingest`,
      ),
    )
    expect(dryRun).toContain(`${sent + conversations.length} records would be replayed`)
    expect(dryRun).toContain('a replay now would be refused')

    await app.stop()
    app = undefined
    const into = 'shadow1'
    const lines: string[] = []
    const result = await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: ['inbound', 'receiver', 'inbox', 'sync', 'merge-index', 'merge'],
      into,
      write: (t) => lines.push(t),
      progressIntervalMs: 500,
    })
    expect(result.final?.done).toBe(result.final?.total)
    expect(lines.at(-1)).toMatch(/^replay 100% /)
    // The shadow's outputs went to its own topics, not the live ones.
    const shadowReceipts = await readReceipts(`${prefix}${into}.im.receipts`, sent)
    expect(shadowReceipts).toHaveLength(sent)

    const live = await digestApp(
      deployment.kafka,
      deployment.admin,
      `${prefix}imflow`,
      allTopologies,
    )
    const shadow = await digestApp(
      deployment.kafka,
      deployment.admin,
      `${prefix}${into}`,
      allTopologies,
    )
    const key = (r: { topology: string; store: string; partition: number }) =>
      `${r.topology}/${r.store}/${r.partition}`
    const liveBy = new Map(live.map((r) => [key(r), r]))
    const differ = shadow
      .filter((r) => liveBy.get(key(r))?.digest !== r.digest)
      .map((r) => `${r.topology}/${r.store}`)
    expect(live.filter((r) => r.keys > 0).length).toBeGreaterThan(5)
    expect(shadow.map(key)).toEqual(live.map(key))
    // The one store that waits on the wall clock: users owed an offline notification until
    // their window passes (docs/replay.md); everything else is the same state.
    expect(differ.filter((s) => s !== 'sync/pending-notifications')).toEqual([])
    const ids = shadow.find((r) => r.store === 'dedupe' && r.keys > 0)
    expect(ids?.keys).toBe(sent)

    // Into the live app id (stopped), from the start: its stores answer every record as seen
    // before. No message stored or sequenced again, none renumbered: the same state.
    const again = await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: allTopologies,
      write: () => {},
      progressIntervalMs: 500,
    })
    expect(again.final?.done).toBe(sent + 2 * conversations.length)
    const after = await digestApp(
      deployment.kafka,
      deployment.admin,
      `${prefix}imflow`,
      allTopologies,
    )
    const changed = after
      .filter((r) => liveBy.get(key(r))?.digest !== r.digest)
      .map((r) => `${r.topology}/${r.store}`)
    expect(changed.filter((s) => s !== 'sync/pending-notifications')).toEqual([])
  }, 480_000)

  const allTopologies = ['inbound', 'receiver', 'inbox', 'sync', 'merge-index', 'merge']

  async function readReceipts(topic: string, count: number): Promise<Receipt[]> {
    const receipts: Receipt[] = []
    const consumer = kafka.consumer({ groupId: unique('rpl-reader'), readUncommitted: false })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.value) receipts.push(await codecs['im.receipts'].decode(message.value))
      },
    })
    try {
      await eventually(() => (receipts.length >= count ? true : undefined), {
        timeoutMs: 60_000,
        what: `${count} receipts on ${topic}`,
      })
    } finally {
      await consumer.disconnect()
    }
    return receipts
  }

  /** Every group of the app has committed to the end of every topic it reads. */
  async function settled(runtimeId: string): Promise<true | undefined> {
    for (const t of allTopologies) {
      const offsets = await deployment.admin.fetchOffsets({ groupId: `${runtimeId}-${t}` })
      for (const topic of offsets) {
        const ends = await deployment.admin.fetchTopicOffsets(topic.topic)
        for (const p of topic.partitions) {
          const end = ends.find((e) => e.partition === p.partition)
          if (end && Number(end.high) > Number(end.low) && Number(p.offset) < Number(end.high))
            return undefined
        }
      }
    }
    return true
  }
})
