// Forwarding to other geos and units through the topology test driver: a target whose topic is
// missing gets its records parked in the task, in order, while the other conversations of the
// partition go on, and sent on once it is back (forward-or-park.ts); a conversation homed in
// another geo gets its users' writes forwarded there, and their receipts back (route-by-geo.ts).

import { beforeEach, describe, expect, it } from 'vitest'
import type { Action, ConversationEvent, SendMessage } from '../../schemas/types.generated.js'
import { PARKED_STORE, UNPARK_EVERY_MS } from '../../topologies/receiver/forward-or-park.js'
import {
  HOME_GEO_HEADER,
  HOME_UNIT_HEADER,
  ORIGIN_GEO_HEADER,
  ORIGIN_UNIT_HEADER,
  type RemoteTargets,
  receiverTopology,
} from '../../topologies/receiver/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { type ReceiverCodecs, receiverCodecs, receiverTopics } from './receiver-codecs.js'

const topics = receiverTopics
const US_INBOUND = 'us.imflow-us-inbound'
const B_INGEST = 'b.im.ingest'
const US = {
  ingest: 'us.im.ingest',
  actions: 'us.im.actions',
  receipts: 'us.im.receipts',
  rooms: 'us.im.rooms',
}
const now = Date.UTC(2026, 10, 26, 12)

let codecs: ReceiverCodecs

/** Targets as the watch reports them: `missing` topics are down; counts per topic. */
function targets(missing: Set<string>) {
  const parked = new Map<string, number>()
  const unparked = new Map<string, number>()
  const t: RemoteTargets = {
    isUp: (topic) => !missing.has(topic),
    parked: (topic, n) => parked.set(topic, (parked.get(topic) ?? 0) + n),
    unparked: (topic, n) => unparked.set(topic, (unparked.get(topic) ?? 0) + n),
  }
  return { targets: t, parked, unparked }
}

beforeEach(async () => {
  codecs = await receiverCodecs()
})

function euDriver(remoteTargets: RemoteTargets, largeGroupThreshold?: number) {
  return new TopologyTestDriver(
    receiverTopology({
      topics,
      codecs,
      unit: 0,
      userPartitions: 4,
      clock: () => now,
      ...(largeGroupThreshold ? { largeGroupThreshold } : {}),
      geos: {
        local: 'eu',
        geoOf: (u) => (u === 'bob' ? 'us' : undefined),
        inbound: { us: US_INBOUND },
        homes: { us: US },
      },
      units: {
        '1': {
          ingest: B_INGEST,
          conversations: 'b.im.conversations',
          actions: 'b.im.actions',
          receipts: 'b.im.receipts',
        },
      },
      remoteTargets,
    }),
  )
}

async function create(driver: TopologyTestDriver, id: string, members: string[], unit = '') {
  const event: ConversationEvent = {
    conversationId: id,
    actorId: 'root',
    at: now,
    change: { kind: 'ConversationCreated', conversationType: 'GROUP', members, admins: [], unit },
  }
  await driver.pipe(topics.conversations, {
    key: id,
    value: codecs.conversationEvent.encode(event),
    timestamp: now,
  })
}

async function send(
  driver: TopologyTestDriver,
  conversationId: string,
  clientMsgId: string,
  headers: Record<string, string> = {},
) {
  const m: SendMessage = {
    conversationId,
    clientMsgId,
    senderId: 'ann',
    type: 'TEXT',
    body: clientMsgId,
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    sentAt: now,
  }
  await driver.pipe(topics.ingest, {
    key: conversationId,
    value: codecs.sendMessage.encode(m),
    timestamp: now,
    headers,
  })
}

async function parkedCount(driver: TopologyTestDriver): Promise<number> {
  let n = 0
  for await (const _ of driver.store(PARKED_STORE).range()) n++
  return n
}

const outcomes = async (driver: TopologyTestDriver) =>
  Promise.all(
    driver
      .read(topics.receipts)
      .map(async (r) => (await codecs.receipt.decode(r.value as Buffer)).outcome.kind),
  )

describe('receiver: forwarding to a missing target', () => {
  it('parks a geo share while its inbound is missing, and sends it on in order once it exists', async () => {
    const missing = new Set([US_INBOUND])
    const watch = targets(missing)
    const eu = euDriver(watch.targets)
    await create(eu, 'atlantic', ['ann', 'bob'])
    await create(eu, 'home', ['ann', 'carl'])
    await send(eu, 'atlantic', 'm-1')
    await send(eu, 'home', 'm-2')
    await send(eu, 'atlantic', 'm-3')
    // Every message answered, the local shares handed off: nothing waits on the missing topic.
    expect(await outcomes(eu)).toEqual(['Accepted', 'Accepted', 'Accepted'])
    const local = await Promise.all(
      eu.read(topics.fanout).map((r) => codecs.fanoutBatch.decode(r.value as Buffer)),
    )
    // Two joins (ann, then ann and carl) and three messages (ann; ann and carl; ann).
    expect(local.flatMap((b) => b.recipients).sort()).toEqual([
      'ann',
      'ann',
      'ann',
      'ann',
      'ann',
      'carl',
      'carl',
    ])
    expect(eu.read(US_INBOUND)).toEqual([])
    // bob's join and his two messages wait.
    expect(await parkedCount(eu)).toBe(3)
    expect(watch.parked.get(US_INBOUND)).toBe(3)

    await eu.advanceWallClock(UNPARK_EVERY_MS * 3)
    expect(eu.read(US_INBOUND)).toEqual([]) // still missing: still waiting

    missing.delete(US_INBOUND)
    await send(eu, 'atlantic', 'm-4') // behind the waiting ones, not ahead of them
    expect(eu.read(US_INBOUND)).toEqual([])
    await eu.advanceWallClock(UNPARK_EVERY_MS)
    const written = eu.read(US_INBOUND)
    // Marked as another geo's share: us's inbox sends it on to bob's unit there (inbound.ts).
    expect(written.map((r) => String(r.headers?.['imflow-from-geo']))).toEqual(
      written.map(() => '1'),
    )
    const sent = await Promise.all(written.map((r) => codecs.fanoutBatch.decode(r.value as Buffer)))
    expect(sent.map((b) => b.event.payload.kind)).toEqual([
      'MembershipChanged',
      'NewMessage',
      'NewMessage',
      'NewMessage',
    ])
    const bodies = sent.flatMap((b) =>
      b.event.payload.kind === 'NewMessage' ? [b.event.payload.message.body] : [],
    )
    expect(bodies).toEqual(['m-1', 'm-3', 'm-4'])
    expect(sent.every((b) => b.recipients.join() === 'bob')).toBe(true)
    expect(await parkedCount(eu)).toBe(0)
    expect(watch.unparked.get(US_INBOUND)).toBe(4)

    // The park is empty again: the next share goes straight through.
    await send(eu, 'atlantic', 'm-5')
    expect(eu.read(US_INBOUND)).toHaveLength(1)
    await eu.advanceWallClock(UNPARK_EVERY_MS)
    expect(eu.read(US_INBOUND)).toEqual([])
  })

  it('parks a message for a unit whose ingest is missing, keeping its headers', async () => {
    const missing = new Set([B_INGEST])
    const eu = euDriver(targets(missing).targets)
    await create(eu, 'far', ['ann', 'dan'], '1')
    await send(eu, 'far', 'm-1', { 'imflow-reply-to': 'api-a', 'imflow-request-id': 'r-1' })
    expect(eu.read(B_INGEST)).toEqual([])
    expect(await outcomes(eu)).toEqual([]) // the home unit answers, later
    missing.clear()
    await eu.advanceWallClock(UNPARK_EVERY_MS)
    const [forwarded] = eu.read(B_INGEST)
    expect(forwarded?.key?.toString()).toBe('far')
    const headers = Object.fromEntries(
      Object.entries(forwarded?.headers ?? {}).map(([k, v]) => [k, String(v)]),
    )
    expect(headers).toEqual({
      'imflow-reply-to': 'api-a',
      'imflow-request-id': 'r-1',
      [ORIGIN_UNIT_HEADER]: '0',
    })
    expect((await codecs.sendMessage.decode(forwarded?.value as Buffer)).body).toBe('m-1')
  })
})

describe('receiver: acting from home (route-by-geo)', () => {
  const reply = { 'imflow-reply-to': 'api-eu', 'imflow-request-id': 'r-9' }
  const headerText = (h: Record<string, unknown> | undefined) =>
    Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k, String(v)]))

  it('forwards a message and an action of a conversation unknown here to the home geo named', async () => {
    const eu = euDriver(targets(new Set()).targets)
    await send(eu, 'pacific', 'm-1', { ...reply, [HOME_GEO_HEADER]: 'us' })
    const [message] = eu.read(US.ingest)
    expect(headerText(message?.headers)).toEqual({ ...reply, [ORIGIN_GEO_HEADER]: 'eu' })
    expect((await codecs.sendMessage.decode(message?.value as Buffer)).body).toBe('m-1')
    expect(await outcomes(eu)).toEqual([]) // the home answers
    const action: Action = {
      conversationId: 'pacific',
      userId: 'ann',
      at: now,
      action: { kind: 'ReactionChanged', msgId: '1', emoji: '👍', op: 'ADD' },
    }
    await eu.pipe(topics.actions, {
      key: 'pacific',
      value: codecs.action.encode(action),
      timestamp: now,
      headers: { [HOME_GEO_HEADER]: 'us' },
    })
    const [forwarded] = eu.read(US.actions)
    expect(await codecs.action.decode(forwarded?.value as Buffer)).toEqual(action)
    expect(headerText(forwarded?.headers)).toEqual({ [ORIGIN_GEO_HEADER]: 'eu' })
  })

  it('decides what it knows itself, whatever the header says, and never forwards twice', async () => {
    const eu = euDriver(targets(new Set()).targets)
    await create(eu, 'home', ['ann'])
    await send(eu, 'home', 'm-1', { [HOME_GEO_HEADER]: 'us' }) // known here: decided here
    expect(await outcomes(eu)).toEqual(['Accepted'])
    await send(eu, 'pacific', 'm-2', { [HOME_GEO_HEADER]: 'us', [ORIGIN_GEO_HEADER]: 'us' })
    await send(eu, 'pacific', 'm-3', { [HOME_GEO_HEADER]: 'mars' }) // no such geo
    expect(eu.read(US.ingest)).toEqual([])
    // Unknown here, not forwardable: answered as unknown — to the origin geo when it names one.
    const back = await Promise.all(
      eu.read(US.receipts).map((r) => codecs.receipt.decode(r.value as Buffer)),
    )
    expect(back.map((r) => [r.clientMsgId, r.outcome.kind])).toEqual([['m-2', 'Rejected']])
    expect(await outcomes(eu)).toEqual(['Rejected'])
  })

  it('sends the receipt of a message forwarded from another geo back there', async () => {
    const eu = euDriver(targets(new Set()).targets)
    await create(eu, 'atlantic', ['ann', 'bob'])
    await send(eu, 'atlantic', 'm-1', { ...reply, [ORIGIN_GEO_HEADER]: 'us' })
    // A copy stays here for the merge stage (it learns the sender from it), without the reply
    // headers: no API here waits for it.
    expect(eu.read(topics.receipts).map((r) => headerText(r.headers))).toEqual([{}])
    const [receipt] = eu.read(US.receipts)
    expect(headerText(receipt?.headers)).toEqual(reply)
    expect((await codecs.receipt.decode(receipt?.value as Buffer)).outcome.kind).toBe('Accepted')
  })
})

describe('receiver: acting from any unit (HOME_UNIT_HEADER)', () => {
  const reply = { 'imflow-reply-to': 'api-a', 'imflow-request-id': 'r-7' }
  const headerText = (h: Record<string, unknown> | undefined) =>
    Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k, String(v)]))

  it('forwards a message and an action of a conversation unknown here to the unit the API named', async () => {
    const a = euDriver(targets(new Set()).targets)
    await send(a, 'far', 'm-1', { ...reply, [HOME_UNIT_HEADER]: '01' })
    const [message] = a.read(B_INGEST)
    // The API's guide stays here: the home goes by what it knows.
    expect(headerText(message?.headers)).toEqual({ ...reply, [ORIGIN_UNIT_HEADER]: '0' })
    expect(await outcomes(a)).toEqual([]) // the home answers
    const action: Action = {
      conversationId: 'far',
      userId: 'ann',
      at: now,
      action: { kind: 'ReadReceipt', upToMsgId: '1' },
    }
    await a.pipe(topics.actions, {
      key: 'far',
      value: codecs.action.encode(action),
      timestamp: now,
      headers: { [HOME_UNIT_HEADER]: '1' },
    })
    const [forwarded] = a.read('b.im.actions')
    expect(await codecs.action.decode(forwarded?.value as Buffer)).toEqual(action)
    expect(headerText(forwarded?.headers)).toEqual({ [ORIGIN_UNIT_HEADER]: '0' })
  })

  it('goes by what it knows, and never sends a forwarded record on by a guess', async () => {
    const a = euDriver(targets(new Set()).targets)
    await create(a, 'here', ['ann'])
    await send(a, 'here', 'm-1', { [HOME_UNIT_HEADER]: '1' }) // known here: decided here
    await send(a, 'far', 'm-2', { [HOME_UNIT_HEADER]: '1', [ORIGIN_UNIT_HEADER]: '1' })
    await send(a, 'far', 'm-3', { [HOME_UNIT_HEADER]: '7' }) // no such unit
    await send(a, 'far', 'm-4', { [HOME_UNIT_HEADER]: '0' }) // this one: unknown here
    expect(a.read(B_INGEST)).toEqual([])
    const back = await Promise.all(
      a.read('b.im.receipts').map((r) => codecs.receipt.decode(r.value as Buffer)),
    )
    expect(back.map((r) => [r.clientMsgId, r.outcome.kind])).toEqual([['m-2', 'Rejected']])
    expect(await outcomes(a)).toEqual(['Accepted', 'Rejected', 'Rejected'])
  })
})

describe('receiver: a large group with members in another geo', () => {
  it('sends each of its room events once to that geo’s room, nothing per member, and none where no member is', async () => {
    const eu = euDriver(targets(new Set()).targets, 3)
    await create(eu, 'big', ['ann', 'bob', 'carl', 'dan']) // bob is homed in us
    await create(eu, 'local', ['ann', 'carl', 'dan', 'eve'])
    eu.read(US_INBOUND) // bob's join
    await send(eu, 'big', 'm-1')
    await send(eu, 'local', 'm-2')
    expect(await outcomes(eu)).toEqual(['Accepted', 'Accepted'])
    const rooms = await Promise.all(
      eu.read(US.rooms).map((r) => codecs.roomEvent.decode(r.value as Buffer)),
    )
    expect(rooms.map((r) => [r.conversationId, r.seq, r.event.payload.kind])).toEqual([
      ['big', 1, 'NewMessage'],
    ])
    expect(eu.read(topics.rooms).map((r) => r.key?.toString())).toEqual(['big', 'local'])
    expect(eu.read(US_INBOUND)).toEqual([]) // no per-user share in us
  })
})
