// The sync topology (user-keyed): every event bound for a user gets the user's next PTS and
// a place in their sync queue; online devices are pushed from their cursor in envelopes on
// im.sync (packed over a short delay, higher priority first), far-behind devices get a
// Rebase, and users with no device online get one coalesced notification on im.notify.
// The handlers are sequence.ts, device-events.ts and push.ts, over a task's SyncTask; with other
// geos or units, user-moves.ts ends the stream of a user who moves away (read from im.users).

import type { EventCodec } from '../../schemas/codec.js'
import type { DeviceEvent, FanoutBatch, UserEvent } from '../../schemas/types.generated.js'
import { byUser, SYNC_STORES } from '../model/index.js'
import { defineTopology, type TopologyDefinition } from '../runtime/index.js'
import { onDeviceEvent } from './device-events.js'
import { notificationFor } from './offline-notifications.js'
import { checkAcks, push } from './push.js'
import { prefetchRecipients, sequence } from './sequence.js'
import { defaultSyncSettings, type SyncSettings, tickMs } from './sync-state.js'
import { type SyncCodecs, SyncTask } from './sync-task.js'
import { onUserHome, type SyncHomes } from './user-moves.js'

export interface SyncOptions {
  topics: { fanout: string; deviceEvents: string; sync: string; notify: string }
  codecs: SyncCodecs & {
    fanoutBatch: EventCodec<FanoutBatch>
    deviceEvent: EventCodec<DeviceEvent>
  }
  settings?: Partial<SyncSettings>
  /** Users' homes, where other geos or units are configured: a user who moves away (user-moves.ts). */
  homes?: SyncHomes
}

/** Users pushed per punctuation or record at most; the rest stay due for the next one. */
const PUSHES_PER_TICK = 500

/** What is due: re-sends, pushes (high priority first, bounded per tick), notifications. */
async function runDue(task: SyncTask, now: number): Promise<void> {
  for (const userId of task.ackChecks.takeDue(now)) await checkAcks(task, userId, now)
  const due = task.pushes.takeDue(now)
  due.sort((a, b) => Number(task.urgent.has(b)) - Number(task.urgent.has(a)))
  // Bounded work per tick: a burst for thousands of users goes out over several
  // transactions, and the others' records and acks are not held up behind it.
  for (const userId of due.splice(PUSHES_PER_TICK)) task.pushes.set(userId, now)
  for (const userId of due) {
    task.urgent.delete(userId)
    await push(task, userId, now)
  }
  for (const userId of task.notifyAt.takeDue(now)) {
    const pending = await task.notifications.get(userId)
    if (!pending) continue
    task.notify(notificationFor(userId, pending, now))
    task.notifications.delete(userId)
  }
}

export function syncTopology(options: SyncOptions): TopologyDefinition {
  const { topics, codecs, homes } = options
  const settings: SyncSettings = { ...defaultSyncSettings, ...options.settings }
  return defineTopology({
    name: 'sync',
    // A push waits on it: each slice commits at once.
    commitIntervalMs: 0,
    sources: [
      { topic: topics.fanout, decode: (b) => codecs.fanoutBatch.decode(b) },
      {
        topic: topics.deviceEvents,
        decode: (b) => codecs.deviceEvent.decode(b),
        // Any producer: a device event on a partition that does not own its user goes there.
        owner: byUser('reroute'),
      },
      ...(homes ? [{ topic: homes.users, decode: (b: Buffer) => homes.userCodec.decode(b) }] : []),
    ],
    sinks: { sync: { topic: topics.sync }, notify: { topic: topics.notify } },
    stores: Object.values(SYNC_STORES),
    processor: (context) => {
      const task = new SyncTask(context, codecs, settings)
      context.schedule(tickMs(settings), 'wall-clock', async (now) => {
        await task.recoverIfNeeded(now)
        await runDue(task, now)
      })
      return {
        prefetch: (records) =>
          prefetchRecipients(
            task,
            records.filter((r) => r.topic === topics.fanout).map((r) => r.value as FanoutBatch),
          ),
        async process(record) {
          const now = context.wallClock()
          await task.recoverIfNeeded(now)
          if (homes && record.topic === homes.users) {
            await onUserHome(task, homes, record.value as UserEvent, now)
          } else if (record.topic === topics.deviceEvents) {
            await onDeviceEvent(task, record.value as DeviceEvent, now)
          } else {
            await sequence(task, record.value as FanoutBatch, now)
          }
        },
        // Once per transaction: a user's events of all its records in one envelope, pushed
        // with the transaction that sequenced them.
        async beforeCommit() {
          const now = context.wallClock()
          await task.recoverIfNeeded(now)
          await runDue(task, now)
        },
      }
    },
  })
}
