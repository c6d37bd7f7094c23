// What one sync task's handlers share: its stores (users, sync log, online users, pending
// notifications), the timers kept in memory beside them, and its two outputs. The handlers
// (sequence.ts, device-events.ts, push.ts) are functions over it; sync.ts wires them to records
// and punctuations.

import type { EventCodec } from '../../schemas/codec.js'
import type { Notification, Priority, SyncEnvelope } from '../../schemas/types.generated.js'
import { jsonSerde, stringSerde, typedStore } from '../../state/index.js'
import { SYNC_STORES } from '../model/index.js'
import type { KeyValueStore, ProcessorContext, ReadWriteStore } from '../runtime/index.js'
import { Deadlines } from './deadlines.js'
import type { PendingNotification } from './offline-notifications.js'
import { SyncLog } from './sync-log.js'
import { packDelay, type SyncSettings, type UserSync } from './sync-state.js'

const ONLINE = Buffer.from([1])

export interface SyncCodecs {
  syncEnvelope: EventCodec<SyncEnvelope>
  notification: EventCodec<Notification>
}

export class SyncTask {
  readonly users: KeyValueStore<string, UserSync>
  readonly log: SyncLog
  readonly notifications: KeyValueStore<string, PendingNotification>
  private readonly online: ReadWriteStore
  // Timers live in memory and are rebuilt from the stores after an open or a rollback.
  readonly pushes = new Deadlines()
  /** Users with high-priority events waiting: pushed first. */
  readonly urgent = new Set<string>()
  readonly ackChecks = new Deadlines()
  readonly notifyAt = new Deadlines()
  private recovered = false

  constructor(
    private readonly context: ProcessorContext,
    private readonly codecs: SyncCodecs,
    readonly settings: SyncSettings,
  ) {
    this.users = typedStore(context.store(SYNC_STORES.users), stringSerde, jsonSerde<UserSync>())
    this.log = new SyncLog(
      context.store(SYNC_STORES.queue),
      context.store(SYNC_STORES.ptsIndex),
      settings.retention,
    )
    this.online = context.store(SYNC_STORES.online)
    this.notifications = typedStore(
      context.store(SYNC_STORES.notifications),
      stringSerde,
      jsonSerde<PendingNotification>(),
    )
    context.store(SYNC_STORES.users).onRollback(() => {
      this.recovered = false
    })
  }

  /** Rebuilds the timers from the stores once after an open or a rollback. */
  async recoverIfNeeded(now: number): Promise<void> {
    if (this.recovered) return
    for (const timers of [this.pushes, this.ackChecks, this.notifyAt]) timers.clear()
    this.urgent.clear()
    for await (const [key] of this.online.range()) {
      this.pushes.set(key.toString(), now)
      this.ackChecks.set(key.toString(), now)
    }
    for await (const [userId, pending] of this.notifications.range()) {
      this.notifyAt.set(userId, pending.firstAt + this.settings.notifyWindowMs)
    }
    this.recovered = true
  }

  schedulePush(userId: string, priority: Priority, now: number): void {
    this.pushes.set(userId, now + packDelay(priority, this.settings))
    if (priority === 'HIGH') this.urgent.add(userId)
  }

  /** Pushes the user now, ahead of the others due. */
  pushNow(userId: string, now: number): void {
    this.pushes.set(userId, now)
    this.urgent.add(userId)
  }

  setOnline(userId: string, online: boolean): void {
    if (online) this.online.put(Buffer.from(userId), ONLINE)
    else this.online.delete(Buffer.from(userId))
  }

  send(envelope: SyncEnvelope): void {
    this.context.send('sync', {
      key: envelope.userId,
      value: this.codecs.syncEnvelope.encode(envelope),
    })
  }

  notify(notification: Notification): void {
    this.context.send('notify', {
      key: notification.userId,
      value: this.codecs.notification.encode(notification),
    })
  }
}
