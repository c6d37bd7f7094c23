// What the sync topology's driver tests share: topic names, settings and the real codecs
// (schemas in memory).

import { createEventCodec, type EventCodec } from '../../schemas/codec.js'
import { memorySchemaSource, type SchemaSource } from '../../schemas/schema-source.js'
import type {
  DeviceEvent,
  FanoutBatch,
  Notification,
  SyncEnvelope,
} from '../../schemas/types.generated.js'
import type { SyncSettings } from '../../topologies/sync/index.js'

export const topics = {
  fanout: 'fanout',
  deviceEvents: 'devices',
  sync: 'im.sync',
  notify: 'im.notify',
}
export const settings: SyncSettings = {
  rebaseThreshold: 100,
  retention: 300,
  batchSizes: { MOBILE: 5, PAD: 5, WEB: 10, DESKTOP: 10 },
  packDelayMs: 20,
  ackTimeoutMs: 1_000,
  notifyWindowMs: 500,
}

export interface SyncCodecs {
  fanoutBatch: EventCodec<FanoutBatch>
  deviceEvent: EventCodec<DeviceEvent>
  syncEnvelope: EventCodec<SyncEnvelope>
  notification: EventCodec<Notification>
}

/** The sync topology's codecs, over a new in-memory schema source unless given one. */
export async function syncCodecs(source: SchemaSource = memorySchemaSource()): Promise<SyncCodecs> {
  return {
    fanoutBatch: await createEventCodec(source, 'fanout-value', 'FanoutBatch'),
    deviceEvent: await createEventCodec(source, 'devices-value', 'DeviceEvent'),
    syncEnvelope: await createEventCodec(source, 'im.sync-value', 'SyncEnvelope'),
    notification: await createEventCodec(source, 'im.notify-value', 'Notification'),
  }
}
