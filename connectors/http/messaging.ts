// What the /v1 routes need from the rest of imflow: codecs, topics, a publisher, the
// receipt waiter, the token secret. One object, handed to each route plugin.

import type { ContractCodecs } from '../../schemas/contract.js'
import type { UserEvent } from '../../schemas/types.generated.js'
import type { TopologyQueries } from '../../topologies/registry.js'
import type { GeoHomes } from './home-client.js'
import type { UnitHomes } from './home-unit.js'
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
  /** A device further behind a large group than this many messages reloads its latest page. */
  catchUpLimit: number
  /** Reads of the topologies' stores; absent where this instance runs no topologies. */
  queries?: TopologyQueries
  /** Conversations homed in other geos (IMFLOW_REMOTE_GEO_URLS): their users act on them here. */
  homes?: GeoHomes
  /** Conversations homed in other units (IMFLOW_REMOTE_UNIT_URLS): their history and totals are read there. */
  units?: UnitHomes
  /**
   * Users' homes (PUT /v1/users/:uid): this instance's replica of im.users (what a PUT leaves
   * out is kept from it), this geo (a user's geo until one is set) and the other units'
   * im.users, which a change is written to as well.
   */
  users?: {
    current(userId: string): UserEvent | undefined
    geo: string
    remoteTopics: readonly string[]
  }
  /** This unit (IMFLOW_UNIT) and the others it forwards to (IMFLOW_REMOTE_UNITS): where a move may go. */
  unitNames?: { local: number; remote: readonly string[] }
}
