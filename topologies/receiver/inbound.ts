// Inbound (per geo): records forwarded by other geos' receivers carry this geo's share of a
// message's recipients; they are split by this geo's own user partitions and handed to its
// inbox like local ones. Exactly once, like every topology: each forwarded record once.

import type { EventCodec } from '../../schemas/codec.js'
import type { FanoutBatch } from '../../schemas/types.generated.js'
import { defineTopology, type TopologyDefinition } from '../runtime/index.js'
import { planFanOut } from './fan-out.js'
import type { UserHome } from './user-home.js'

/**
 * Marks a hand-off record that came from another geo's or unit's receiver: the inbox applies
 * it (it was sent to the user's home), never sends it on by its own replica of users' homes,
 * so two deployments whose replicas disagree a moment cannot pass it back and forth. `geo`:
 * it came from another geo, whose receiver knows this geo's listed deployment, not its units:
 * the inbox sends a user homed in another unit of this geo their share there, once (that unit
 * gets it through its inbound, marked `1`).
 */
export const VIA_INBOUND_HEADER = 'imflow-via-inbound'

/** On what a deployment sends to another geo's inbound (a share, a moving user's rows). */
export const FROM_GEO_HEADER = 'imflow-from-geo'

/** The headers of a record to `home`'s inbound. */
export function inboundHeaders(home: UserHome): Record<string, string> {
  return home.geo !== undefined ? { [FROM_GEO_HEADER]: '1' } : {}
}

export function inboundTopology(options: {
  inbound: string
  fanout: string
  userPartitions: number
  codec: EventCodec<FanoutBatch>
}): TopologyDefinition {
  return defineTopology({
    name: 'inbound',
    // A push waits on it: each slice commits at once.
    commitIntervalMs: 0,
    sources: [{ topic: options.inbound, decode: (b) => options.codec.decode(b) }],
    sinks: { fanout: { topic: options.fanout } },
    processor: (context) => ({
      process(record) {
        const forwarded = record.value as FanoutBatch
        const fromGeo = record.headers[FROM_GEO_HEADER] !== undefined
        for (const share of planFanOut(forwarded.recipients, options.userPartitions)) {
          const batch: FanoutBatch = { ...forwarded, ...share }
          context.send('fanout', {
            key: record.key,
            value: options.codec.encode(batch),
            partition: share.partition,
            headers: { [VIA_INBOUND_HEADER]: fromGeo ? 'geo' : '1' },
          })
        }
      },
    }),
  })
}
