// The inbox (user-keyed): the write-diffusion side of the hybrid storage model. It keeps,
// per user, the private messages (P) they may see, their per-user state changes of normal
// messages (NP: deleted for me), and their conversation list: unread count and last message,
// updated at send time for small groups only. Normal messages (N) are not copied here. A user
// whose home geo changes takes their list rows along (geo-move.ts).

import type { EventCodec } from '../../schemas/codec.js'
import { compareMsgIds } from '../../schemas/msg-id.js'
import type { FanoutBatch, StoredMessage, UserEvent } from '../../schemas/types.generated.js'
import {
  deletedKey,
  inboxKey,
  inboxStores,
  type ListRow,
  listKey,
  type MessageSummary,
  userPrefix,
} from '../model/index.js'
import {
  alwaysUp,
  forwarder,
  PARKED_STORE,
  type RemoteTargets,
  UNPARK_EVERY_MS,
} from '../receiver/index.js'
import {
  defineTopology,
  type InputRecord,
  openStore,
  type TopologyDefinition,
} from '../runtime/index.js'
import { fromMovedRow, mergeRows, movedRowBatch, movedUsers } from './geo-move.js'

const UNREAD_IDS_KEPT = 100

export function summarize(m: StoredMessage): MessageSummary {
  return {
    msgId: m.msgId,
    senderId: m.senderId,
    type: m.type,
    preview: m.body.slice(0, 100),
    createdAt: m.createdAt,
  }
}

/** A read up to `upTo`: the unread ids it covers leave the count. */
export function markRead(row: ListRow, upTo: string): ListRow {
  const remaining = row.unreadIds.filter((id) => compareMsgIds(id, upTo) > 0)
  const oldestKept = row.unreadIds[0]
  // Unread messages older than the ids kept are covered by this read only if it reaches past them.
  const beyondKept = row.unread - row.unreadIds.length
  const stillBeyond =
    oldestKept !== undefined && compareMsgIds(upTo, oldestKept) < 0 ? beyondKept : 0
  return { ...row, unread: remaining.length + stillBeyond, unreadIds: remaining }
}

export interface InboxOptions {
  fanout: string
  codec: EventCodec<FanoutBatch>
  /** Users' home geos (im.users, co-partitioned): rows follow a user who moves to another geo. */
  geoMove?: {
    users: string
    userCodec: EventCodec<UserEvent>
    local: string
    /** Remote geo -> its inbound topic. */
    inbound: Readonly<Record<string, string>>
    remoteTargets?: RemoteTargets
  }
}

export function inboxTopology(options: InboxOptions): TopologyDefinition {
  const move = options.geoMove
  const geoSinks = Object.fromEntries(
    Object.entries(move?.inbound ?? {}).map(([geo, topic]) => [`geo:${geo}`, { topic }]),
  )
  return defineTopology({
    name: 'inbox',
    sources: [
      { topic: options.fanout, decode: (b) => options.codec.decode(b) },
      ...(move ? [{ topic: move.users, decode: (b: Buffer) => move.userCodec.decode(b) }] : []),
    ],
    sinks: geoSinks,
    stores: [...Object.values(inboxStores), ...(move ? [movedUsers.name, PARKED_STORE] : [])],
    processor: (context) => {
      const inbox = openStore(context, inboxStores.inbox)
      const deleted = openStore(context, inboxStores.deleted)
      const lists = openStore(context, inboxStores.lists)
      const empty = (): ListRow => ({ unread: 0, unreadIds: [], last: null })
      const moving = move && {
        moved: openStore(context, movedUsers),
        forward: forwarder(context, geoSinks, move.remoteTargets ?? alwaysUp),
        // Who moved away, read once (few users): a batch's recipients are looked up here.
        cache: undefined as Map<string, string> | undefined,
      }
      if (moving) {
        context.store(movedUsers.name).onRollback(() => {
          moving.cache = undefined
        })
      }
      const movedAway = async () => {
        if (!moving) return new Map<string, string>()
        if (!moving.cache) {
          moving.cache = new Map()
          for await (const [uid, { geo }] of moving.moved.range()) moving.cache.set(uid, geo)
        }
        return moving.cache
      }
      if (moving) context.schedule(UNPARK_EVERY_MS, 'wall-clock', () => moving.forward.unpark())

      /** A user homed in another geo now: their rows go there and leave here. */
      const userMoved = async (record: InputRecord, { userId, geo }: UserEvent) => {
        if (!move || !moving) return
        const away = await movedAway()
        if (geo === move.local || !Object.hasOwn(move.inbound, geo)) {
          moving.moved.delete(userId)
          away.delete(userId)
          return
        }
        let rows = 0
        const prefix = userPrefix(userId)
        for await (const [key, row] of lists.prefix(prefix)) {
          const conversationId = key.subarray(prefix.length).toString()
          const sourceId = `moved:${userId}:${conversationId}:${record.offset}`
          await moving.forward.send(`geo:${geo}`, {
            key: conversationId,
            value: options.codec.encode(movedRowBatch(userId, conversationId, row, sourceId)),
          })
          lists.delete(key)
          rows++
        }
        // Only users who leave from here are followed (not every user homed elsewhere, whom
        // the senders' receivers route away already): a small set, kept in memory.
        if (rows > 0 || away.has(userId)) {
          moving.moved.put(userId, { geo })
          away.set(userId, geo)
        }
      }

      /**
       * What still reaches this inbox for users who moved away goes after their rows; the rest
       * of the batch is applied here. Returns who is left here.
       */
      const redirect = async (record: InputRecord, batch: FanoutBatch) => {
        const movedTo = await movedAway()
        if (!moving || movedTo.size === 0) return batch.recipients
        const here: string[] = []
        const away = new Map<string, string[]>()
        for (const userId of batch.recipients) {
          const geo = movedTo.get(userId)
          if (geo === undefined) here.push(userId)
          else away.set(geo, [...(away.get(geo) ?? []), userId])
        }
        for (const [geo, recipients] of away) {
          await moving.forward.send(`geo:${geo}`, {
            key: record.key,
            value: options.codec.encode({ ...batch, partition: -1, recipients }),
          })
        }
        return here
      }

      return {
        async process(record) {
          if (move && record.topic === move.users)
            return userMoved(record, record.value as UserEvent)
          const received = record.value as FanoutBatch
          const recipients = await redirect(record, received)
          if (recipients.length === 0) return
          const batch = { ...received, recipients }
          const payload = batch.event.payload
          const movedRow = batch.movedRow
          if (movedRow && payload.kind === 'MembershipChanged') {
            for (const userId of recipients) {
              const key = listKey(userId, payload.conversationId)
              lists.put(key, mergeRows(await lists.get(key), fromMovedRow(movedRow)))
            }
            return
          }
          if (payload.kind === 'MembershipChanged') {
            for (const userId of batch.recipients) {
              const key = listKey(userId, payload.conversationId)
              if (!payload.member) lists.delete(key)
              else if (!(await lists.get(key))) lists.put(key, empty())
            }
            return
          }
          if (payload.kind === 'ConversationRead') {
            const key = listKey(batch.recipients[0] ?? '', payload.conversationId)
            const row = await lists.get(key)
            if (row) lists.put(key, markRead(row, payload.upToMsgId))
            return
          }
          if (payload.kind === 'NewMessage' && batch.updateLists) {
            // Small group: each recipient's row changes now (large groups compute on read).
            const m = payload.message
            for (const userId of batch.recipients) {
              const key = listKey(userId, m.conversationId)
              const row = (await lists.get(key)) ?? empty()
              const mine = userId === m.senderId
              lists.put(key, {
                unread: mine ? row.unread : row.unread + 1,
                unreadIds: mine
                  ? row.unreadIds
                  : [...row.unreadIds, m.msgId].slice(-UNREAD_IDS_KEPT),
                last: summarize(m),
              })
            }
          }
          if (payload.kind === 'NewMessage' && payload.message.visibility === 'PRIVATE') {
            const m = payload.message
            for (const userId of batch.recipients) {
              inbox.put(inboxKey(userId, m.conversationId, m.createdAt, m.msgId), m)
            }
          } else if (payload.kind === 'MessageDeleted') {
            for (const userId of batch.recipients) {
              deleted.put(
                deletedKey(userId, payload.conversationId, payload.msgId),
                Buffer.from([1]),
              )
              // Deleting an unread message takes it out of the count; deleting the last one
              // leaves the row to find its new last message when read.
              const key = listKey(userId, payload.conversationId)
              const row = await lists.get(key)
              if (!row) continue
              const wasUnread = row.unreadIds.includes(payload.msgId)
              lists.put(key, {
                unread: wasUnread ? row.unread - 1 : row.unread,
                unreadIds: row.unreadIds.filter((id) => id !== payload.msgId),
                last: row.last?.msgId === payload.msgId ? null : row.last,
                ...(row.last?.msgId === payload.msgId || row.lastDeleted
                  ? { lastDeleted: true }
                  : {}),
              })
            }
          }
        },
      }
    },
  })
}
