// Units: every conversation has a home unit (a deployment cell) and is processed and stored
// only there. A receiver forwards what belongs to another unit it knows — a message, a change
// of the conversation, a user's action on it — to that unit's own topics, in the task's transaction like every sink.
// A unit's view of a home may be old (it hears only of the moves made through it or to or
// from it): what arrives forwarded at a unit that is no longer the home — it moved the
// conversation on — is passed on to the home it knows, with its origin kept (the receipt goes
// back to the API that waits for it), a bounded number of times (MAX_UNIT_RELAYS: each pass
// follows one move, so the bound only stops a loop between misconfigured units, which then
// reject its messages, UNKNOWN_UNIT, after one bounce at most). A move itself, which only
// the home makes, is passed on the same way (move-relay.ts). A conversation this unit never
// heard of (created through another unit's API) is forwarded to the unit the API found it at
// (HOME_UNIT_HEADER): so a user acts on any of their conversations through any unit's API.

import type { EventCodec } from '../../schemas/codec.js'
import type {
  Action,
  ConversationEvent,
  Receipt,
  SendMessage,
} from '../../schemas/types.generated.js'
import type { ConversationMeta } from '../model/index.js'
import type { InputRecord } from '../runtime/index.js'
import type { Forwarder } from './forward-or-park.js'
import { HANDOVER_HEADER, HANDOVER_PART_HEADER, MOVE_REQUEST_HEADER } from './move-headers.js'
import { header } from './move-in.js'

/** Another unit's deployment, as its receiver sees it: where messages, changes, actions and receipts go. */
export interface UnitTopics {
  ingest: string
  conversations: string
  actions: string
  receipts: string
  /** Its share of what is handed to users homed there (user-home.ts). */
  inbound?: string
  /** Large groups' events, for its gateways to push to the devices of users homed there. */
  rooms?: string
}

/**
 * Names the unit that forwarded a record (its number). The home unit sends the receipt of a
 * forwarded message back to that unit's receipts topic, where the producer waits for it.
 */
export const ORIGIN_UNIT_HEADER = 'imflow-origin-unit'

/**
 * On a forwarded message, action or change that a unit which no longer homes the conversation
 * passed on to the home it knows: how many such passes so far.
 */
export const UNIT_RELAY_HEADER = 'imflow-unit-relays'

/**
 * Set by the API on a message or action of a conversation this unit's receiver does not know:
 * the unit whose API counts the sender a member (home-unit.ts `locateHomeUnit`). Only a guide:
 * a conversation known here is routed as known, and the unit named decides (membership too).
 */
export const HOME_UNIT_HEADER = 'imflow-home-unit'

/** Passes of one forwarded record at most; see the header above. */
export const MAX_UNIT_RELAYS = 8

/** User ids per forwarded conversation event, as the admin routes: far below Kafka's 1 MB. */
const USER_IDS_PER_EVENT = 10_000

export type Home =
  | { kind: 'local' }
  | { kind: 'remote'; unit: string }
  | { kind: 'unknown'; unit: string }

/** Conversations name units as text; "01" and "1" are one unit, "" is the local one. */
export function normalizeUnit(unit: string): string {
  const trimmed = unit.trim()
  return /^\d+$/.test(trimmed) ? String(Number(trimmed)) : trimmed
}

export function homeOf(
  unit: string,
  local: number,
  remote: Readonly<Record<string, UnitTopics>>,
): Home {
  const u = normalizeUnit(unit)
  if (u === '' || u === String(local)) return { kind: 'local' }
  return Object.hasOwn(remote, u) ? { kind: 'remote', unit: u } : { kind: 'unknown', unit: u }
}

export function unitSink(unit: string, topic: keyof UnitTopics): string {
  return `unit:${unit}:${topic}`
}

/** The receiver's sinks for every remote unit's topics. */
export function unitSinks(
  remote: Readonly<Record<string, UnitTopics>>,
): Record<string, { topic: string }> {
  return Object.fromEntries(
    Object.entries(remote).flatMap(([unit, topics]) =>
      (Object.keys(topics) as (keyof UnitTopics)[]).flatMap((t) => {
        const topic = topics[t]
        return topic === undefined ? [] : [[unitSink(unit, t), { topic }]]
      }),
    ),
  )
}

/** The unit that forwarded this record; undefined when a producer wrote it here. */
export function originOf(record: InputRecord): string | undefined {
  const one = header(record, ORIGIN_UNIT_HEADER)
  return one === undefined ? undefined : normalizeUnit(one)
}

/**
 * A producer's headers (reply-to and request id among them), plus this unit as the origin.
 * A repeated header keeps its last value, as Kafka's own clients read one.
 */
export function forwardedHeaders(
  headers: InputRecord['headers'],
  local: number,
): Record<string, Buffer | string> {
  const out: Record<string, Buffer | string> = {}
  for (const [name, value] of Object.entries(headers)) {
    const one = Array.isArray(value) ? value.at(-1) : value
    // The API's guide is for this unit only: the home goes by what it knows.
    if (one !== undefined && name !== HOME_UNIT_HEADER) out[name] = one
  }
  out[ORIGIN_UNIT_HEADER] = String(local)
  return out
}

/**
 * Where a record for a conversation homed at `where` goes, with its headers: from a producer,
 * to its home once, this unit named as the origin; forwarded here, on as below.
 */
function nextHop(
  record: InputRecord,
  where: Home,
  local: number,
): { unit: string; headers: Record<string, Buffer | string> } | undefined {
  if (where.kind === 'remote' && originOf(record) === undefined)
    return { unit: where.unit, headers: forwardedHeaders(record.headers, local) }
  return relayOf(record, where, local)
}

/**
 * Where a record that arrived forwarded goes on to, with its headers: the home this unit
 * knows, if another one, passed on fewer than MAX_UNIT_RELAYS times. The origin stays the
 * first unit's. Back to the origin too: this unit has moved the conversation there, and the
 * origin sent it here before it had the hand-over (a move into the sender's own unit). The
 * move's first record went to the origin's im.ingest before this one, on the same key, so the
 * origin holds it with the conversation's other traffic until the move is complete. A record
 * back at its origin is not sent out again (the units disagree about the home: one bounce).
 */
function relayOf(
  record: InputRecord,
  where: Home,
  local: number,
): { unit: string; headers: Record<string, Buffer | string> } | undefined {
  const origin = originOf(record)
  if (origin === undefined || where.kind !== 'remote' || origin === String(local)) return undefined
  const passes = Number(header(record, UNIT_RELAY_HEADER) ?? 0)
  if (!(passes < MAX_UNIT_RELAYS)) return undefined
  const headers: Record<string, Buffer | string> = {}
  for (const [name, value] of Object.entries(record.headers)) {
    const last = Array.isArray(value) ? value.at(-1) : value
    if (last !== undefined) headers[name] = last
  }
  headers[UNIT_RELAY_HEADER] = String(passes + 1)
  return { unit: where.unit, headers }
}

/**
 * Where a record of a conversation this unit does not know goes: the remote unit the API
 * named (HOME_UNIT_HEADER), for a record a producer wrote here; else undefined (decided here:
 * unknown). A forwarded record is never sent on by a guess, only by what is known.
 */
function namedHomeUnit(record: InputRecord, home: (unit: string) => Home): string | undefined {
  if (originOf(record) !== undefined) return undefined
  const named = header(record, HOME_UNIT_HEADER)
  if (named === undefined) return undefined
  const where = home(named)
  return where.kind === 'remote' ? where.unit : undefined
}

/** The refusal of a message that has no way to its home (nextHop found none). */
function noWay(
  record: InputRecord,
  conversationId: string,
  where: Home,
  unit: string,
  local: number,
): Extract<Receipt['outcome'], { kind: 'Rejected' }> {
  const origin = originOf(record)
  const homed = `conversation ${conversationId} is homed in unit ${normalizeUnit(unit)}`
  const detail =
    origin === String(local) && where.kind === 'remote'
      ? `${homed}, says unit ${local}, to which a unit that takes unit ${local} for its home sent it back: the units disagree`
      : origin !== undefined && where.kind === 'remote'
        ? `${homed}, not in unit ${local} that unit ${origin} forwarded it to; passed on ${MAX_UNIT_RELAYS} times at most`
        : `${homed}, which is not in IMFLOW_REMOTE_UNITS of unit ${local}`
  return { kind: 'Rejected', reason: 'UNKNOWN_UNIT', detail }
}

/**
 * What a unit that receives a conversation needs to know it: its new home, its creation (type,
 * admins), every member (additions are idempotent, so a unit that knew the conversation before
 * gains whoever joined since) and its mute state. Its history comes from its old home (move-out.ts).
 */
export function handOverEvents(
  event: ConversationEvent,
  meta: ConversationMeta,
  roster: { members: string[]; admins: string[] },
): ConversationEvent[] {
  const chunks: string[][] = []
  for (let i = 0; i < roster.members.length; i += USER_IDS_PER_EVENT)
    chunks.push(roster.members.slice(i, i + USER_IDS_PER_EVENT))
  // Its new home first: a unit that knew the conversation as homed elsewhere hands on the
  // joins below to the members; one that did not know it ignores it and learns from the rest.
  const changes: ConversationEvent['change'][] = [
    { kind: 'UnitChanged', unit: meta.unit },
    {
      kind: 'ConversationCreated',
      conversationType: meta.type,
      members: chunks[0] ?? [],
      admins: roster.admins,
      unit: meta.unit,
    },
    ...chunks.map((userIds) => ({ kind: 'MembersAdded' as const, userIds })),
    { kind: 'MuteChanged', muted: meta.muted },
  ]
  return changes.map((change) => ({ ...event, change }))
}

export interface UnitRouterOptions {
  /** Writes to another unit's topics: parked while that unit's topic is missing. */
  forward: Forwarder
  local: number
  remote: Readonly<Record<string, UnitTopics>>
  codecs: {
    sendMessage: EventCodec<SendMessage>
    conversationEvent: EventCodec<ConversationEvent>
    action: EventCodec<Action>
  }
}

/** The receiver's side of units: where a record belongs, and forwarding it there. */
export function unitRouter({ forward, local, remote, codecs }: UnitRouterOptions) {
  const home = (unit: string) => homeOf(unit, local, remote)

  const forwardChange = (
    unit: string,
    event: ConversationEvent,
    extra: Record<string, string> = {},
  ) =>
    forward.send(unitSink(unit, 'conversations'), {
      key: event.conversationId,
      value: codecs.conversationEvent.encode(event),
      headers: { ...extra, [ORIGIN_UNIT_HEADER]: String(local) },
    })

  return {
    isLocal: (unit: string) => home(unit).kind === 'local',

    /** The unit, if it is another one listed here (where a moved conversation's history can go). */
    remote: (unit: string): string | undefined => {
      const where = home(unit)
      return where.kind === 'remote' ? where.unit : undefined
    },

    /** The remote unit the API named for a conversation unknown here (namedHomeUnit). */
    namedHome: (record: InputRecord) => namedHomeUnit(record, home),

    /** The receipts sink: the origin unit's for a message it forwarded here, else this one's. */
    receiptSink(record: InputRecord): string {
      const origin = originOf(record)
      return origin !== undefined && Object.hasOwn(remote, origin)
        ? unitSink(origin, 'receipts')
        : 'receipts'
    },

    /**
     * A message for a conversation homed in another unit: forwarded, as the producer wrote it
     * (passed on, when it came forwarded and the conversation has moved on); or refused when
     * there is no way there (the receipt says why).
     */
    async forwardMessage(
      record: InputRecord,
      message: SendMessage,
      unit: string,
    ): Promise<Extract<Receipt['outcome'], { kind: 'Rejected' }> | undefined> {
      const where = home(unit)
      const to = nextHop(record, where, local)
      if (!to) return noWay(record, message.conversationId, where, unit, local)
      await forward.send(unitSink(to.unit, 'ingest'), {
        key: message.conversationId,
        value: codecs.sendMessage.encode(message),
        headers: to.headers,
      })
      return undefined
    },

    /**
     * A user's action (read receipt, delete-for-me, reaction) on a conversation homed in a
     * remote unit: acted on there, where its read cursors and merge windows are (passed on,
     * like a message, when it came here forwarded and the conversation has moved on). An
     * action for a unit not listed has nowhere to go and is not applied here either.
     */
    async forwardAction(record: InputRecord, action: Action, unit: string): Promise<void> {
      const to = nextHop(record, home(unit), local)
      if (!to) return
      await forward.send(unitSink(to.unit, 'actions'), {
        key: action.conversationId,
        value: codecs.action.encode(action),
        headers: to.headers,
      })
    },

    /**
     * A change of a conversation homed in a remote unit goes there too. A move is the home's
     * to make: a unit that only routes the conversation passes it to the home it knows
     * (move-relay.ts); the home — whoever made the move — hands the conversation over to the
     * new one (it knows the members, and sends the history from here).
     */
    async forwardChange(
      record: InputRecord,
      event: ConversationEvent,
      before: ConversationMeta | undefined,
      after: ConversationMeta,
      roster: () => Promise<{ members: string[]; admins: string[] }>,
    ): Promise<void> {
      const forwarded = originOf(record) !== undefined
      const now = home(after.unit)
      if (event.change.kind !== 'UnitChanged') {
        // To the home; or, forwarded here as to the home that moved it on, passed on (a
        // hand-over is not: it is this unit's).
        const to = record.headers[HANDOVER_HEADER] === undefined && nextHop(record, now, local)
        if (to)
          await forward.send(unitSink(to.unit, 'conversations'), {
            key: event.conversationId,
            value: codecs.conversationEvent.encode(event),
            headers: to.headers,
          })
        return
      }
      const was = before ? home(before.unit) : undefined
      // Even to the unit this one thinks it is at: the home may be elsewhere by now.
      if (was?.kind === 'remote' && !forwarded)
        await forwardChange(was.unit, event, { [MOVE_REQUEST_HEADER]: '0' })
      if (was?.kind !== 'remote' && now.kind === 'remote') {
        // The last event says where the history comes from (move-in.ts): here, or nowhere
        // when the old home was no unit this one knows.
        const from = was?.kind === 'local' ? String(local) : ''
        const events = handOverEvents(event, after, await roster())
        for (const [i, e] of events.entries())
          await forwardChange(now.unit, e, {
            [HANDOVER_PART_HEADER]: '1',
            ...(i === events.length - 1 ? { [HANDOVER_HEADER]: from } : {}),
          })
      }
    },

    /** Passes a move on to another unit's im.conversations, as one that came here (move-relay.ts). */
    passOn: (unit: string, event: ConversationEvent, relays: number) =>
      forwardChange(unit, event, { [MOVE_REQUEST_HEADER]: String(relays) }),
  }
}

export type UnitRouter = ReturnType<typeof unitRouter>
