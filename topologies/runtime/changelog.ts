// Changelog topics and their records. Keys carry a one-byte tag: DATA for a store write,
// MARKER for the restore marker a task writes when it opens — reading up to one's own
// marker is how a restore knows it has seen every committed write (kafkajs exposes no
// consumer position, and control records at the end of a log never reach the consumer) —
// BACKFILL for how far a store's backfill from the log got (one key per partition,
// committed with the writes it covers; internal/backfill-plan.ts), and POSITION for where
// the task's consumer stood on a source topic (one key per topic, committed in the same
// transaction as the group's offset: internal/start-position.ts).

import { randomBytes } from 'node:crypto'

export const DATA = 0x00
export const MARKER = 0x01
export const BACKFILL = 0x02
export const POSITION = 0x03

/** The one key of a changelog partition's backfill progress (compaction keeps the latest). */
export const BACKFILL_KEY = Buffer.from([BACKFILL])

export { changelogTopic } from './topic-names.js'

export function dataKey(storeKey: Buffer): Buffer {
  return Buffer.concat([Buffer.from([DATA]), storeKey])
}

/** The key of a source topic's position in the first store's changelog (compaction keeps the latest). */
export function positionKey(sourceTopic: string): Buffer {
  return Buffer.concat([Buffer.from([POSITION]), Buffer.from(sourceTopic)])
}

export function newMarker(): Buffer {
  return Buffer.concat([Buffer.from([MARKER]), randomBytes(16)])
}
