// Receivers of several units through the topology test driver: each unit's topics under its
// own prefix, a driver per unit listing the others, and what one unit wrote for another piped
// into it by hand (in the order a test chooses: the worst a task may read it in).

import type { Logger } from '../../ops/log.js'
import { decodeStoredMessage, RECEIVER_STORES as STORES } from '../../topologies/model/index.js'
import type { ReceiverOptions, UnitTopics } from '../../topologies/receiver/index.js'
import { receiverTopology } from '../../topologies/receiver/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { type ReceiverCodecs, receiverTopics } from './receiver-codecs.js'

/** A unit's own topics under its prefix, as another unit's receiver writes to them. */
export const unitTopics = (prefix: string): UnitTopics => ({
  ingest: `${prefix}im.ingest`,
  conversations: `${prefix}im.conversations`,
  actions: `${prefix}im.actions`,
  receipts: `${prefix}im.receipts`,
  inbound: `${prefix}imflow-inbound`,
  rooms: `${prefix}im.rooms`,
})

/** Units 0, 1 and 2 under a., b. and c. */
export const UNIT_TOPICS: readonly UnitTopics[] = ['a.', 'b.', 'c.'].map(unitTopics)

/** Where a unit driver's dead letters go, each as `<code>: <message>`. */
export const DEAD_LETTERS = 'dlq'

/**
 * Unit `unit` of the first `of` units, listing every other one; the rest of the receiver's
 * options (threshold, clock, move chunk) as given.
 */
export function unitDriver(
  codecs: ReceiverCodecs,
  unit: number,
  of: number,
  options: Partial<Omit<ReceiverOptions, 'topics' | 'codecs' | 'unit' | 'units'>> = {},
  log?: Logger,
): TopologyTestDriver {
  const units: Record<string, UnitTopics> = {}
  for (let u = 0; u < of; u++) if (u !== unit) units[String(u)] = UNIT_TOPICS[u] as UnitTopics
  return new TopologyTestDriver(
    receiverTopology({
      topics: receiverTopics,
      codecs,
      unit,
      units,
      userPartitions: 4,
      ...options,
    }),
    {
      deadLetters: {
        topic: DEAD_LETTERS,
        encode: (l) => Buffer.from(`${l.errorCode}: ${l.errorMessage}`),
      },
      log,
    },
  )
}

type Written = ReturnType<TopologyTestDriver['read']>

/** Records one driver wrote (read from it already), piped into another's topic as written. */
export async function pipeWritten(
  records: Written,
  to: TopologyTestDriver,
  into: string,
  timestamp: number,
): Promise<void> {
  for (const r of records) {
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k] = String(v)
    await to.pipe(into, { key: r.key, value: r.value, timestamp, headers })
  }
}

/** A unit's conversation log, in key order: each message's msgId, seq and body. */
export async function storedLog(
  d: TopologyTestDriver,
): Promise<{ msgId: string; seq: number; body: string }[]> {
  const out: { msgId: string; seq: number; body: string }[] = []
  for await (const [, v] of d.store(STORES.messages).range()) {
    const m = decodeStoredMessage(v)
    out.push({ msgId: m.msgId, seq: m.seq, body: m.body })
  }
  return out
}
