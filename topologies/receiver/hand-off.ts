// An event handed to its recipients (the receiver's messages and changes, the merge's
// updates): each other geo's or unit's share once to its inbound, which splits it by its own
// user partitions; the recipients homed here one record per user partition (fan-out.ts).

import type { EventCodec } from '../../schemas/codec.js'
import type { FanoutBatch } from '../../schemas/types.generated.js'
import type { ProcessorContext } from '../runtime/index.js'
import { planFanOut } from './fan-out.js'
import type { Forwarder } from './forward-or-park.js'
import { inboundHeaders } from './inbound.js'
import { inboundSink, splitByHome, type UserHome } from './user-home.js'

export interface HandOffTarget {
  readonly context: Pick<ProcessorContext, 'send'>
  /** Undefined where no other home is configured: everyone is handed on here. */
  readonly forward: Pick<Forwarder, 'send'> | undefined
  homeOf(userId: string): UserHome | undefined
  readonly codec: EventCodec<FanoutBatch>
  readonly userPartitions: number
}

export async function handOff(
  target: HandOffTarget,
  conversationId: string,
  recipients: readonly string[],
  batch: Pick<FanoutBatch, 'sourceId' | 'event' | 'updateLists'>,
): Promise<void> {
  const { context, forward, codec } = target
  const { local, remote } = forward
    ? splitByHome(recipients, (u) => target.homeOf(u))
    : { local: recipients, remote: new Map<string, { home: UserHome; users: string[] }>() }
  for (const { home, users } of remote.values()) {
    const share: FanoutBatch = { ...batch, partition: -1, recipients: users }
    await forward?.send(inboundSink(home), {
      key: conversationId,
      value: codec.encode(share),
      headers: inboundHeaders(home),
    })
  }
  for (const share of planFanOut(local, target.userPartitions)) {
    context.send('fanout', {
      key: conversationId,
      value: codec.encode({ ...batch, ...share }),
      partition: share.partition,
    })
  }
}
