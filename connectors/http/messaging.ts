// What the /v1 routes need from the rest of imflow: codecs, topics, a publisher, the
// receipt waiter, the token secret. One object, handed to each route plugin.

import type { ContractCodecs } from '../../schemas/contract.js'
import type { InboxQueries } from '../../topologies/inbox/index.js'
import type { MergeQueries } from '../../topologies/merge/index.js'
import type { ReceiverQueries } from '../../topologies/receiver/index.js'
import type { SyncQueries } from '../../topologies/sync/index.js'
import type { Publisher } from './publisher.js'
import type { ReceiptWaiter } from './receipt-waiter.js'

export interface Messaging {
  jwtSecret: string
  codecs: ContractCodecs
  topics: { ingest: string; conversations: string; users: string; actions: string }
  publisher: Publisher
  receipts: ReceiptWaiter
  /** How long POST /v1/messages waits for its receipt. */
  requestTimeoutMs: number
  /** Above this many members, conversation lists are computed when read. */
  largeGroupThreshold: number
  /** Reads of the topologies' stores; absent where this instance runs no topologies. */
  queries?: {
    receiver: ReceiverQueries
    inbox: InboxQueries
    sync: SyncQueries
    /** Read and reaction totals (topologies/merge); absent: those routes are not served. */
    merge?: MergeQueries
  }
}
