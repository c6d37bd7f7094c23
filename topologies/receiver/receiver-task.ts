// What one receiver task's handlers share: its stores, the msgId generator, the unit router,
// the peak-shaving gate, and the ways out — a receipt to the sender, a hand-off to the
// recipients' partitions (and to their homes in other geos and units), an event to a large
// group's room. The handlers (receive.ts, actions.ts, conversation-events.ts) are functions
// over it.

import type { Logger } from '../../ops/log.js'
import { createMsgIdGenerator, MSG_ID_EPOCH_MS, type MsgIdGenerator } from '../../schemas/msg-id.js'
import type { FanoutBatch, Receipt, RoomEvent, SendMessage } from '../../schemas/types.generated.js'
import { bufferSerde, int64Serde, jsonSerde, stringSerde, typedStore } from '../../state/index.js'
import {
  DEFAULT_LARGE_GROUP_THRESHOLD,
  type DedupeEntry,
  RECEIVER_STORES as STORES,
} from '../model/index.js'
import type {
  InputRecord,
  KeyValueStore,
  ProcessorContext,
  ReadWriteStore,
} from '../runtime/index.js'
import { type AdmissionGate, admitAll } from './admission.js'
import { ConversationState } from './conversation-state.js'
import { alwaysUp, type Forwarder, forwarder, UNPARK_EVERY_MS } from './forward-or-park.js'
import { type HandOffTarget, handOff } from './hand-off.js'
import { MovesIn } from './move-in.js'
import { EXPORT_EVERY_MS, MovesOut } from './move-out.js'
import { PrivateDedupe } from './private-dedupe.js'
import { REPLY_HEADERS, type ReceiverOptions, remoteSinks } from './receiver-options.js'
import { RoomHomes } from './room-homes.js'
import { type GeoRouter, geoRouter } from './route-by-geo.js'
import { type UnitRouter, unitRouter } from './route-by-unit.js'
import { type HomePlaces, roomsSink, type UserHome, userHome } from './user-home.js'

type Event = FanoutBatch['event']

export class ReceiverTask {
  readonly conversations: ConversationState
  readonly dedupe: KeyValueStore<string, DedupeEntry>
  /** The task's logger (`log` is the conversations' message log). */
  readonly logger: Logger
  /** The conversation's log of normal messages (messageKey -> StoredMessage). */
  readonly log: ReadWriteStore
  readonly readCursors: KeyValueStore<Buffer, string>
  readonly seqIndex: ReadWriteStore
  /** Private messages' dedupe answers by conversation: they move with it. */
  readonly privateDedupe: PrivateDedupe
  readonly route: UnitRouter
  readonly geoRoute: GeoRouter
  /** Sends to other geos' and units' topics, or parks while one is missing. */
  readonly forward: Forwarder
  readonly gate: AdmissionGate
  /** Conversations moving into this unit: their history comes in, their traffic waits. */
  readonly moves: MovesIn
  /** Histories of conversations moved to another unit, still being sent there. */
  readonly movesOut: MovesOut
  readonly clock: () => number
  readonly largeGroupThreshold: number
  private readonly ids: KeyValueStore<string, number>
  /** The other geos and units users may be homed in (those with an inbound topic). */
  private readonly places: HomePlaces
  private readonly roomHomes: RoomHomes
  private readonly handOffTarget: HandOffTarget
  private generator: MsgIdGenerator | undefined
  private idTime = 0

  constructor(
    private readonly context: ProcessorContext,
    readonly options: ReceiverOptions,
    /** Delivers an accepted message (a deferred one, when shaping drains it). */
    deliver: (task: ReceiverTask, stored: Buffer) => Promise<void>,
    /** Processes an input record (a held one, when its conversation's move completes). */
    process: (task: ReceiverTask, record: InputRecord) => Promise<void>,
  ) {
    this.conversations = new ConversationState(
      context.store(STORES.conversations),
      context.store(STORES.members),
    )
    this.dedupe = typedStore(context.store(STORES.dedupe), stringSerde, jsonSerde<DedupeEntry>())
    this.ids = typedStore(context.store(STORES.ids), stringSerde, int64Serde)
    // A rolled-back transaction's ids were never issued: go on from the committed position,
    // as a replay of the same records will (else a retried slice renumbers what follows).
    context.store(STORES.ids).onRollback(() => {
      this.generator = undefined
    })
    this.log = context.store(STORES.messages)
    this.logger = context.log
    this.readCursors = typedStore(context.store(STORES.readCursors), bufferSerde, stringSerde)
    this.seqIndex = context.store(STORES.seqIndex)
    this.privateDedupe = new PrivateDedupe(context)
    this.forward = forwarder(context, remoteSinks(options), options.remoteTargets ?? alwaysUp)
    context.schedule(UNPARK_EVERY_MS, 'wall-clock', () => this.forward.unpark())
    this.route = unitRouter({
      forward: this.forward,
      local: options.unit,
      remote: options.units ?? {},
      codecs: options.codecs,
    })
    this.geoRoute = geoRouter({
      forward: this.forward,
      local: options.geos?.local ?? '',
      remote: options.geos?.homes ?? {},
    })
    this.moves = new MovesIn(context, this, (record) => process(this, record))
    this.movesOut = new MovesOut(context, this)
    context.schedule(EXPORT_EVERY_MS, 'wall-clock', async (now) => {
      await this.movesOut.tick()
      await this.moves.tick(now)
    })
    this.gate = (options.admission ?? admitAll).open(context, (stored) => deliver(this, stored))
    this.clock = options.clock ?? Date.now
    this.largeGroupThreshold = options.largeGroupThreshold ?? DEFAULT_LARGE_GROUP_THRESHOLD
    this.places = {
      geo: options.geos?.local ?? '',
      geos: options.geos?.inbound ?? {},
      unit: options.unit,
      units: Object.fromEntries(
        Object.entries(options.units ?? {}).filter(([, topics]) => topics.inbound !== undefined),
      ),
    }
    this.roomHomes = new RoomHomes((userId) => this.homeOf(userId), this.clock)
    this.handOffTarget = {
      context,
      forward: this.forward,
      homeOf: (userId) => this.homeOf(userId),
      codec: options.codecs.fanoutBatch,
      userPartitions: options.userPartitions,
    }
  }

  /** Where a user is homed when it is another geo or unit (user-home.ts); undefined: here. */
  private homeOf(userId: string): UserHome | undefined {
    const { geos, unitOf } = this.options
    return userHome({ geo: geos?.geoOf(userId), unit: unitOf?.(userId) }, this.places)
  }

  /**
   * The next msgId: unit, partition and a time that never goes back (kept in `ids`). Its time
   * is the record's (event) time, not the time it is processed, so a replay of the same input
   * issues the same ids (docs/replay.md); capped by the clock, so a producer whose clock runs
   * ahead cannot push the partition's ids into the future. A restart goes on from the last id
   * committed, so a replay resumed after a crash issues the ids of an unbroken one.
   */
  async nextId(record: InputRecord): Promise<string> {
    this.idTime = Math.max(MSG_ID_EPOCH_MS, Math.min(record.timestamp, this.clock()))
    if (!this.generator) {
      const resumeAt = await this.ids.get('position')
      this.generator = createMsgIdGenerator({
        unit: this.options.unit,
        worker: this.context.partition,
        floorMs: await this.ids.get('high-water'),
        ...(resumeAt === undefined ? {} : { resumeAt }),
        reserve: (until) => this.ids.put('high-water', until),
        clock: () => this.idTime,
      })
    }
    const id = this.generator.next()
    // Committed with the outputs carrying the id (one changelog write per transaction: the
    // store's cache keeps the latest), so a restarted task issues what an unbroken run would.
    this.ids.put('position', this.generator.position())
    return id
  }

  /** The message's receipt, to its sender (back to its origin geo or unit when forwarded). */
  async reply(
    record: InputRecord,
    message: SendMessage,
    outcome: Receipt['outcome'],
  ): Promise<void> {
    const headers: Record<string, Buffer | string> = {}
    for (const name of REPLY_HEADERS) {
      const value = record.headers[name]
      if (typeof value === 'string' || Buffer.isBuffer(value)) headers[name] = value
    }
    const receipt: Receipt = {
      conversationId: message.conversationId,
      clientMsgId: message.clientMsgId,
      senderId: message.senderId,
      decidedAt: this.clock(),
      outcome,
    }
    const out = {
      key: message.senderId,
      value: this.options.codecs.receipt.encode(receipt),
      headers,
    }
    const sink = this.geoRoute.receiptSink(record) ?? this.route.receiptSink(record)
    if (sink === 'receipts') return this.context.send(sink, out)
    await this.forward.send(sink, out)
    // The merge stage here learns a message's sender from its Accepted receipt (merge-index):
    // without a copy here, reads and reactions of a message posted through another geo or
    // unit would never be merged at its home. No reply headers: no API waits for the copy.
    if (outcome.kind === 'Accepted') this.context.send('receipts', { ...out, headers: {} })
  }

  /**
   * Once to a large group's room, whatever its size: the gateways push it to online devices
   * (and stop pushing to `removed` from here on). Members homed in other geos or units: once
   * to each of their homes' rooms, whose gateways do the same; their devices catch up here,
   * through their own API. Nothing per member anywhere.
   */
  async toRoom(
    conversationId: string,
    seq: number,
    event: Event,
    removed: string[] = [],
  ): Promise<void> {
    const room: RoomEvent = { conversationId, seq, createdAt: this.clock(), event, removed }
    const value = this.options.codecs.roomEvent.encode(room)
    this.context.send('rooms', { key: conversationId, value })
    for (const home of await this.memberHomes(conversationId, removed))
      await this.forward.send(roomsSink(home), { key: conversationId, value })
  }

  /**
   * The other geos and units the members (and those who just left) are homed in (room-homes.ts:
   * kept a moment per conversation); none, and no look-up, when no other rooms are known.
   */
  private async memberHomes(conversationId: string, removed: string[]): Promise<UserHome[]> {
    const unitRooms = Object.values(this.options.units ?? {}).some((t) => t.rooms !== undefined)
    if (Object.keys(this.options.geos?.homes ?? {}).length === 0 && !unitRooms) return []
    const members = await this.conversations.members(conversationId)
    return this.roomHomes.of(conversationId, members, removed)
  }

  /** Each other home's share to its inbound, the rest per user partition (hand-off.ts). */
  handOff(
    conversationId: string,
    recipients: readonly string[],
    sourceId: string,
    event: Event,
    updateLists: boolean,
  ): Promise<void> {
    return handOff(this.handOffTarget, conversationId, recipients, {
      sourceId,
      event,
      updateLists,
    })
  }
}
