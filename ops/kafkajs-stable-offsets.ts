// A consumer group's committed offsets read only once no transaction holds them open
// (KIP-447). A transaction's offsets are pending at the group coordinator from its
// TxnOffsetCommit until it ends; a plain OffsetFetch answers the offset committed before
// them, so a task that moved would resume from there while its old owner's transaction may
// still commit past it. OffsetFetch v7 with `require_stable` gets UNSTABLE_OFFSET_COMMIT for
// such a partition instead, and this module asks again until the transaction has ended.
//
// kafkajs 2.2.4 sends OffsetFetch v1-v4. This module adds v7 (ops/offset-fetch-v7.ts) to
// kafkajs' own OffsetFetch definition (ops/kafkajs-request-version.ts) and calls the public
// admin.fetchOffsets(), so kafkajs still finds the group coordinator and the topics'
// partitions, negotiates the version and reads the answer the way it always does. Unlike
// TxnOffsetCommit's (kafkajs-fenced-offsets.ts), the arguments kafkajs passes down are built
// anew inside fetchOffsets, so nothing of the caller's can key the call; the call is marked
// by its async context instead (AsyncLocalStorage), which follows kafkajs' awaits down to
// broker.offsetFetch(). Any other OffsetFetch (a consumer's, a plain fetchOffsets) is
// encoded as before.

import { AsyncLocalStorage } from 'node:async_hooks'
import { createRequire } from 'node:module'
import type { Admin } from 'kafkajs'
import { ImflowError } from './errors.js'
import {
  addRequestVersion,
  brokerErrorType,
  type RequestDefinition,
  unsupportedVersion,
} from './kafkajs-request-version.js'
import {
  decodeOffsetFetchV7Response,
  encodeOffsetFetchV7,
  OFFSET_FETCH_API_KEY,
  OFFSET_FETCH_STABLE_VERSION,
  type OffsetFetchV7Request,
} from './offset-fetch-v7.js'

type OffsetFetchArgs = Omit<OffsetFetchV7Request, 'requireStable'>

const INSTALLED = Symbol.for('imflow.offsetFetchV7')
const require = createRequire(import.meta.url)
const definition =
  require('kafkajs/src/protocol/requests/offsetFetch/index.js') as RequestDefinition<OffsetFetchArgs> & {
    [mark: symbol]: unknown
  }
// v2-v4's check (top-level error code, then each partition's): UNSTABLE_OFFSET_COMMIT comes
// out as kafkajs' own error of that type.
const { parse } = require('kafkajs/src/protocol/requests/offsetFetch/v4/response.js') as {
  parse(data: unknown): Promise<unknown>
}

interface MarkedCall {
  /** The partitions asked for; undefined: every partition of each topic. */
  partitions?: ReadonlySet<number>
  /** The version kafkajs sent the call with; set only here. */
  sentVersion?: number
}

/** The marked call in progress. */
const marked = new AsyncLocalStorage<MarkedCall>()
let markedInFlight = 0

/**
 * Runs `work` marked. While any AsyncLocalStorage is enabled, Node 20 runs a hook on every
 * promise in the process (7% of the counting topology's CPU in a profile, for a call made
 * when a task opens): so the storage is disabled again once no marked call is in flight.
 */
async function runMarked<T>(call: MarkedCall, work: () => Promise<T>): Promise<T> {
  markedInFlight++
  try {
    return await marked.run(call, work)
  } finally {
    if (--markedInFlight === 0) marked.disable()
  }
}

/**
 * Only the partitions asked for: the coordinator answers UNSTABLE_OFFSET_COMMIT for any
 * partition requested, so asking for every partition of a topic (as kafkajs' admin does)
 * would wait on other tasks' transactions too.
 */
function onlyAsked(args: OffsetFetchArgs, call: MarkedCall): OffsetFetchArgs {
  const asked = call.partitions
  if (!asked || !args.topics) return args
  const topics = args.topics.map(({ topic, partitions }) => ({
    topic,
    partitions: partitions.filter((p) => asked.has(p.partition)),
  }))
  return { ...args, topics }
}

/** Adds v7 to an OffsetFetch definition (kafkajs' own, or one given by a test). */
export function installStableOffsets(
  target: RequestDefinition<OffsetFetchArgs> & { [mark: symbol]: unknown },
): void {
  addRequestVersion(target, INSTALLED, OFFSET_FETCH_STABLE_VERSION, (args, version) => {
    const call = marked.getStore()
    if (!call) return undefined
    if (version < OFFSET_FETCH_STABLE_VERSION) {
      throw unsupportedVersion(
        'OffsetFetch',
        version,
        OFFSET_FETCH_STABLE_VERSION,
        `(Kafka 2.5 or later) to read the offsets of ${args.groupId} only once no transaction holds them open; nothing was read`,
      )
    }
    call.sentVersion = OFFSET_FETCH_STABLE_VERSION
    return {
      request: {
        apiKey: OFFSET_FETCH_API_KEY,
        apiVersion: OFFSET_FETCH_STABLE_VERSION,
        apiName: 'OffsetFetch',
        encode: async () => encodeOffsetFetchV7({ ...onlyAsked(args, call), requireStable: true }),
      },
      response: { decode: async (bytes) => decodeOffsetFetchV7Response(bytes), parse },
    }
  })
}

installStableOffsets(definition)

export type CommittedOffsets = Awaited<ReturnType<Admin['fetchOffsets']>>

export interface StableOffsetsQuery {
  groupId: string
  topics: readonly string[]
  /** Only these partitions of each topic (default: every one). */
  partitions?: readonly number[]
  /** How long to wait for open transactions to end; past it, IMF_ERR_OFFSETS_UNSTABLE. */
  maxWaitMs?: number
}

/**
 * Longer than a transaction may stay open: imflow's producers have a 60 s transaction
 * timeout, past which the transaction coordinator aborts the transaction itself.
 */
export const STABLE_OFFSETS_MAX_WAIT_MS = 90_000
const FIRST_DELAY_MS = 20
const MAX_DELAY_MS = 500

/**
 * The group's committed offsets of the topics' partitions (every one, or those asked for),
 * as admin.fetchOffsets() returns them (offset '-1' where none), read with `require_stable`: while a transaction
 * that sent offsets for one of them is open, asks again (backing off) until it has ended.
 * IMF_ERR_OFFSETS_UNSTABLE when that takes longer than maxWaitMs; IMF_ERR_KAFKA_UNSUPPORTED
 * when the group coordinator speaks no OffsetFetch v7. Other errors are kafkajs' own.
 */
export async function fetchStableOffsets(
  admin: Pick<Admin, 'fetchOffsets'>,
  query: StableOffsetsQuery,
): Promise<CommittedOffsets> {
  const { groupId, topics, partitions, maxWaitMs = STABLE_OFFSETS_MAX_WAIT_MS } = query
  const giveUpAt = Date.now() + maxWaitMs
  for (let attempt = 0; ; attempt++) {
    const call: MarkedCall = partitions ? { partitions: new Set(partitions) } : {}
    try {
      const offsets = await runMarked(call, () =>
        admin.fetchOffsets({ groupId, topics: [...topics] }),
      )
      if (call.sentVersion !== OFFSET_FETCH_STABLE_VERSION) throw notMarked(groupId)
      return offsets
    } catch (err) {
      if (brokerErrorType(err) !== 'UNSTABLE_OFFSET_COMMIT') throw err
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt, giveUpAt - Date.now())
      if (delay <= 0) throw unstable(groupId, topics, maxWaitMs, attempt + 1, err)
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}

function notMarked(groupId: string): ImflowError {
  return new ImflowError(
    'IMF_ERR_INTERNAL',
    `kafkajs read the offsets of ${groupId} without imflow's OffsetFetch v7, so without require_stable (is kafkajs still 2.2.4?)`,
  )
}

function unstable(
  groupId: string,
  topics: readonly string[],
  maxWaitMs: number,
  attempts: number,
  cause: unknown,
): ImflowError {
  return new ImflowError(
    'IMF_ERR_OFFSETS_UNSTABLE',
    `the offsets of ${groupId} for ${topics.join(', ')} stayed held by an open transaction for ${maxWaitMs} ms (${attempts} reads); its producer neither committed nor aborted it`,
    { cause, details: { groupId, topics: [...topics], maxWaitMs, attempts } },
  )
}
