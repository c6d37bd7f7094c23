// The sync topology (user-keyed): every event bound for a user gets the user's next PTS and
// a place in their sync queue; online devices are pushed from their cursor in envelopes on
// im.sync (packed over a short delay, higher priority first), far-behind devices get a
// Rebase, and users with no device online get one coalesced notification on im.notify.

import type { EventCodec } from '../../schemas/codec.js'
import type {
  DeviceEvent,
  FanoutBatch,
  Notification,
  Priority,
  SyncEnvelope,
} from '../../schemas/types.generated.js'
import { jsonSerde, stringSerde, typedStore } from '../../state/index.js'
import { byUser, SYNC_STORES } from '../model/index.js'
import { defineTopology, type TopologyDefinition } from '../runtime/index.js'
import { Deadlines } from './deadlines.js'
import { coalesce, notificationFor, type PendingNotification } from './offline-notifications.js'
import { batchEnvelopes, overwhelmed, planPush, rebaseEnvelope } from './push-plan.js'
import { SyncLog } from './sync-log.js'
import {
  anyOnline,
  type DeviceCursor,
  defaultSyncSettings,
  emptyUser,
  MAX_RESENDS,
  needsRebase,
  packDelay,
  resendDue,
  type SyncSettings,
  type UserSync,
} from './sync-state.js'

export interface SyncOptions {
  topics: { fanout: string; deviceEvents: string; sync: string; notify: string }
  codecs: {
    fanoutBatch: EventCodec<FanoutBatch>
    deviceEvent: EventCodec<DeviceEvent>
    syncEnvelope: EventCodec<SyncEnvelope>
    notification: EventCodec<Notification>
  }
  settings?: Partial<SyncSettings>
}

const ONLINE = Buffer.from([1])

/** Users pushed per punctuation or record at most; the rest stay due for the next one. */
const PUSHES_PER_TICK = 500

export function syncTopology(options: SyncOptions): TopologyDefinition {
  const { topics, codecs } = options
  const settings: SyncSettings = { ...defaultSyncSettings, ...options.settings }
  return defineTopology({
    name: 'sync',
    sources: [
      { topic: topics.fanout, decode: (b) => codecs.fanoutBatch.decode(b) },
      {
        topic: topics.deviceEvents,
        decode: (b) => codecs.deviceEvent.decode(b),
        // Any producer: a device event on a partition that does not own its user goes there.
        owner: byUser('reroute'),
      },
    ],
    sinks: { sync: { topic: topics.sync }, notify: { topic: topics.notify } },
    stores: Object.values(SYNC_STORES),
    processor: (context) => {
      const users = typedStore(context.store(SYNC_STORES.users), stringSerde, jsonSerde<UserSync>())
      const log = new SyncLog(
        context.store(SYNC_STORES.queue),
        context.store(SYNC_STORES.ptsIndex),
        settings.retention,
      )
      const online = context.store(SYNC_STORES.online)
      const notifications = typedStore(
        context.store(SYNC_STORES.notifications),
        stringSerde,
        jsonSerde<PendingNotification>(),
      )
      // Timers live in memory and are rebuilt from the stores after an open or a rollback.
      const pushes = new Deadlines()
      const urgent = new Set<string>()
      const ackChecks = new Deadlines()
      const notifyAt = new Deadlines()
      let recovered = false
      context.store(SYNC_STORES.users).onRollback(() => {
        recovered = false
      })

      const send = (envelope: SyncEnvelope) =>
        context.send('sync', { key: envelope.userId, value: codecs.syncEnvelope.encode(envelope) })

      const recover = async (now: number) => {
        for (const timers of [pushes, ackChecks, notifyAt]) timers.clear()
        urgent.clear()
        for await (const [key] of online.range()) {
          pushes.set(key.toString(), now)
          ackChecks.set(key.toString(), now)
        }
        for await (const [userId, pending] of notifications.range()) {
          notifyAt.set(userId, pending.firstAt + settings.notifyWindowMs)
        }
        recovered = true
      }

      const schedulePush = (userId: string, priority: Priority, now: number) => {
        pushes.set(userId, now + packDelay(priority, settings))
        if (priority === 'HIGH') urgent.add(userId)
      }

      /** Each recipient's next PTS, once per source event (a replay finds the one it has). */
      const sequence = async ({ recipients, sourceId, event }: FanoutBatch, now: number) => {
        for (const userId of recipients) {
          if ((await log.ptsOf(userId, sourceId)) !== undefined) continue
          const user = (await users.get(userId)) ?? emptyUser()
          user.head += 1
          await log.append(userId, user.head, sourceId, event)
          users.put(userId, user)
          if (anyOnline(user)) {
            schedulePush(userId, event.priority, now)
          } else if (
            event.payload.kind === 'NewMessage' &&
            event.payload.message.senderId !== userId
          ) {
            const pending = await notifications.get(userId)
            notifications.put(userId, coalesce(pending, event.payload.message, now))
            if (!pending) notifyAt.set(userId, now + settings.notifyWindowMs)
          }
        }
      }

      const onDeviceEvent = async ({ userId, deviceId, at, event }: DeviceEvent, now: number) => {
        const user = (await users.get(userId)) ?? emptyUser()
        const cursor = user.devices[deviceId]
        if (event.kind === 'LoggedIn') {
          const fresh: DeviceCursor = {
            online: true,
            deviceClass: event.deviceClass,
            gateway: event.gateway,
            acked: event.lastPts,
            pushed: event.lastPts,
            pushedAt: now,
            since: at,
            resends: 0,
          }
          if (needsRebase(user.head, event.lastPts, settings)) {
            send(rebaseEnvelope(userId, [deviceId], user.head, now))
            fresh.acked = user.head
            fresh.pushed = user.head
          } else if (user.head > event.lastPts) {
            pushes.set(userId, now) // its backlog goes out now
            urgent.add(userId)
          }
          user.devices[deviceId] = fresh
          online.put(Buffer.from(userId), ONLINE)
          // Back online: the device gets what a pending notification would have announced.
          notifications.delete(userId)
          notifyAt.delete(userId)
        } else if (event.kind === 'Acked') {
          if (!cursor) return
          cursor.acked = Math.max(cursor.acked, Math.min(event.pts, user.head))
          cursor.pushed = Math.max(cursor.pushed, cursor.acked)
          cursor.resends = 0
          // An ack opens the device's window: the rest of its backlog follows.
          if (cursor.online && cursor.pushed < user.head) pushes.set(userId, now)
        } else {
          // A log-out of a connection since replaced: older than the last log-in, or reported
          // by another gateway than the one the device moved to.
          const moved = event.gateway !== '' && event.gateway !== cursor?.gateway
          if (!cursor || at < cursor.since || moved) return
          cursor.online = false
          if (!anyOnline(user)) online.delete(Buffer.from(userId))
        }
        users.put(userId, user)
      }

      /** Pushes each online device what it lacks, or a Rebase when it is too far behind. */
      const push = async (userId: string, now: number) => {
        const user = await users.get(userId)
        if (!user) return
        let changed = false
        const behind = overwhelmed(user, settings)
        if (behind.length > 0) {
          send(rebaseEnvelope(userId, behind, user.head, now))
          for (const deviceId of behind) {
            const cursor = user.devices[deviceId] as DeviceCursor
            cursor.acked = user.head
            cursor.pushed = user.head
          }
          changed = true
        }
        for (const group of planPush(user, settings)) {
          const events = []
          for await (const e of log.read(userId, group.from, group.to)) events.push(e)
          for (const envelope of batchEnvelopes(
            userId,
            group.deviceIds,
            events,
            group.batchSize,
            now,
          )) {
            send(envelope)
          }
          for (const deviceId of group.deviceIds) {
            const cursor = user.devices[deviceId] as DeviceCursor
            // Re-sends are timed from the oldest unacked push, not postponed by newer ones.
            if (cursor.pushed <= cursor.acked) cursor.pushedAt = now
            cursor.pushed = group.to
          }
          changed = true
        }
        if (!changed) return
        users.put(userId, user)
        ackChecks.set(userId, now + settings.ackTimeoutMs)
      }

      /** Unacked pushes past the timeout are re-sent from the last ack. */
      const checkAcks = async (userId: string, now: number) => {
        const user = await users.get(userId)
        if (!user) return
        let next = Number.POSITIVE_INFINITY
        let changed = false
        for (const cursor of Object.values(user.devices)) {
          if (!cursor.online || cursor.pushed <= cursor.acked) continue
          const due = resendDue(cursor, settings)
          if (due > now) {
            next = Math.min(next, due)
            continue
          }
          changed = true
          if (cursor.resends >= MAX_RESENDS) {
            cursor.online = false
            continue
          }
          cursor.resends += 1
          cursor.pushed = cursor.acked
          pushes.set(userId, now)
          urgent.add(userId)
        }
        if (changed) {
          users.put(userId, user)
          if (!anyOnline(user)) online.delete(Buffer.from(userId))
        }
        if (next < Number.POSITIVE_INFINITY) ackChecks.set(userId, next)
      }

      const runDue = async (now: number) => {
        for (const userId of ackChecks.takeDue(now)) await checkAcks(userId, now)
        // Users with high-priority events waiting go first.
        const due = pushes.takeDue(now)
        due.sort((a, b) => Number(urgent.has(b)) - Number(urgent.has(a)))
        // Bounded work per tick: a burst for thousands of users goes out over several
        // transactions, and the others' records and acks are not held up behind it.
        for (const userId of due.splice(PUSHES_PER_TICK)) pushes.set(userId, now)
        for (const userId of due) {
          urgent.delete(userId)
          await push(userId, now)
        }
        for (const userId of notifyAt.takeDue(now)) {
          const pending = await notifications.get(userId)
          if (!pending) continue
          context.send('notify', {
            key: userId,
            value: codecs.notification.encode(notificationFor(userId, pending, now)),
          })
          notifications.delete(userId)
        }
      }

      context.schedule(Math.min(settings.packDelayMs, 50), 'wall-clock', async (now) => {
        if (!recovered) await recover(now)
        await runDue(now)
      })

      return {
        async process(record) {
          const now = context.wallClock()
          if (!recovered) await recover(now)
          if (record.topic === topics.deviceEvents) {
            await onDeviceEvent(record.value as DeviceEvent, now)
          } else {
            await sequence(record.value as FanoutBatch, now)
          }
          await runDue(now)
        },
      }
    },
  })
}
