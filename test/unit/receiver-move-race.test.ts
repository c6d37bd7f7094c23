// A move made through a third unit that has not heard of an earlier move (three receivers
// through the topology test driver, what each writes for another piped across by hand): unit
// 2 routes a group it knows as homed in unit 0; unit 0 moves it to unit 1, and before unit 2
// hears of that, a PATCH through unit 2 moves it again. Unit 0, no longer the home, passes the
// second move on to unit 1, which applies it after the first (its history here first): one home
// at every moment, every message kept once, in order, with its seq.

import { beforeEach, describe, expect, it } from 'vitest'
import type { ConversationEvent, SendMessage } from '../../schemas/types.generated.js'
import type { UnitTopics } from '../../topologies/receiver/index.js'
import { EXPORT_EVERY_MS } from '../../topologies/receiver/move-out.js'
import type { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { type ReceiverCodecs, receiverCodecs, receiverTopics } from './receiver-codecs.js'
import {
  pipeWritten,
  storedLog,
  unitDriver as threeUnits,
  UNIT_TOPICS,
} from './receiver-units-support.js'

const topics = receiverTopics
const UNITS: Record<string, UnitTopics> = Object.fromEntries(
  UNIT_TOPICS.map((t, u) => [String(u), t]),
)
const now = Date.UTC(2026, 10, 27, 1)
let codecs: ReceiverCodecs

beforeEach(async () => {
  codecs = await receiverCodecs()
})

type Unit = '0' | '1' | '2'

/** Each unit lists the other two; three members make a large group, so messages carry a seq. */
const unitDriver = (unit: Unit) =>
  threeUnits(codecs, Number(unit), 3, { largeGroupThreshold: 2, clock: () => now })

async function change(d: TopologyTestDriver, c: ConversationEvent['change']) {
  const event: ConversationEvent = { conversationId: 'g', actorId: 'root', at: now, change: c }
  await d.pipe(topics.conversations, {
    key: 'g',
    value: codecs.conversationEvent.encode(event),
    timestamp: now,
  })
}

let tick = 0
const send = (d: TopologyTestDriver, clientMsgId: string) => {
  const m: SendMessage = {
    conversationId: 'g',
    clientMsgId,
    senderId: 'bob',
    type: 'TEXT',
    body: clientMsgId,
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    sentAt: now,
  }
  return d.pipe(topics.ingest, {
    key: 'g',
    value: codecs.sendMessage.encode(m),
    timestamp: now + ++tick,
  })
}

/** Everything one unit wrote for another, piped into it in order, topic by topic. */
async function across(from: TopologyTestDriver, to: TopologyTestDriver, unit: Unit) {
  const target = UNITS[unit] as UnitTopics
  for (const [out, into] of [
    [target.ingest, topics.ingest],
    [target.actions, topics.actions],
    [target.conversations, topics.conversations],
  ] as const) {
    await pipeWritten(from.read(out), to, into, now)
  }
}

const log = storedLog

/** Accepted msgIds in the receipts a unit wrote to its own im.receipts. */
const accepted = async (d: TopologyTestDriver) =>
  (
    await Promise.all(d.read(topics.receipts).map((r) => codecs.receipt.decode(r.value as Buffer)))
  ).map((r) => (r.outcome.kind === 'Accepted' ? r.outcome.msgId : r.outcome.kind))

/** Each unit's answer to a message posted to it: decided there (home) or forwarded (to whom). */
async function whereDecided(units: Record<Unit, TopologyTestDriver>, clientMsgId: string) {
  const out: Record<string, string> = {}
  for (const [unit, d] of Object.entries(units)) {
    d.read(topics.receipts)
    for (const other of Object.values(UNITS)) d.read(other.ingest)
    await send(d, `${clientMsgId}-${unit}`)
    const forwardedTo = Object.entries(UNITS).find(([, t]) => d.read(t.ingest).length > 0)?.[0]
    const receipts = await accepted(d)
    out[unit] =
      forwardedTo !== undefined ? `forwards to ${forwardedTo}` : receipts.length ? 'home' : 'holds'
  }
  return out
}

describe('receiver: a move through a unit that has not heard of the one before', () => {
  async function setUp() {
    const units = { '0': unitDriver('0'), '1': unitDriver('1'), '2': unitDriver('2') }
    // Created through unit 2's API, homed in unit 0: unit 2 routes it, unit 0 learns it.
    await change(units['2'], {
      kind: 'ConversationCreated',
      conversationType: 'GROUP',
      members: ['alice', 'bob', 'carol'],
      admins: [],
      unit: '0',
    })
    await across(units['2'], units['0'], '0')
    for (const id of ['m1', 'm2']) await send(units['0'], id)
    const first = await accepted(units['0'])
    expect(first).toHaveLength(2)
    // Move 1, through unit 0's API: to unit 1. Unit 2 does not hear of it.
    await change(units['0'], { kind: 'UnitChanged', unit: '1' })
    return { units, first }
  }

  /** Pipes what each unit wrote for the others until nothing more is written (bounded). */
  async function settle(units: Record<Unit, TopologyTestDriver>) {
    for (let round = 0; round < 10; round++) {
      for (const d of Object.values(units)) await d.advanceWallClock(EXPORT_EVERY_MS)
      for (const [from, d] of Object.entries(units))
        for (const to of Object.keys(units) as Unit[])
          if (to !== from) await across(d, units[to], to)
    }
  }

  it('moved on to the third unit: unit 1 applies it after its own move, and sends the history on', async () => {
    const { units, first } = await setUp()
    // Move 2, through unit 2's API, which still thinks unit 0 is the home: to unit 2 itself.
    await change(units['2'], { kind: 'UnitChanged', unit: '2' })
    await send(units['2'], 'm3') // waits at unit 2 until the history is there
    expect(await accepted(units['2'])).toEqual([])
    // Unit 0 hears of move 2 before unit 1 has heard of move 1.
    await across(units['2'], units['0'], '0')
    await settle(units)

    // One home: unit 2, holding the whole history once, in order, seq without a gap.
    const m3 = await accepted(units['2'])
    expect(m3).toHaveLength(1)
    const history = await log(units['2'])
    expect(history).toEqual([
      { body: 'm1', seq: 1, msgId: first[0] },
      { body: 'm2', seq: 2, msgId: first[1] },
      { body: 'm3', seq: 3, msgId: m3[0] },
    ])
    expect(await log(units['0'])).toEqual([])
    expect(await log(units['1'])).toEqual([])
    expect(await whereDecided(units, 'after')).toEqual({
      '0': 'forwards to 2',
      '1': 'forwards to 2',
      '2': 'home',
    })
  })

  it('moved back to the old home through the third unit: applied after the first move, in order', async () => {
    const { units, first } = await setUp()
    await send(units['0'], 'm3') // forwarded to unit 1 behind the history
    // Move 2, through unit 2's API: to unit 0, which unit 2 thinks it is at already.
    await change(units['2'], { kind: 'UnitChanged', unit: '0' })
    await across(units['2'], units['0'], '0')
    await settle(units)

    const history = await log(units['0'])
    expect(history.map(({ body, seq }) => ({ body, seq }))).toEqual([
      { body: 'm1', seq: 1 },
      { body: 'm2', seq: 2 },
      { body: 'm3', seq: 3 },
    ])
    expect(history.slice(0, 2).map((m) => m.msgId)).toEqual(first)
    expect(await log(units['1'])).toEqual([])
    expect(await whereDecided(units, 'after')).toEqual({
      '0': 'home',
      '1': 'forwards to 0',
      '2': 'forwards to 0',
    })
  })
})
