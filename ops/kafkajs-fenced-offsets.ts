// Offsets committed in a kafkajs transaction with the consumer group's metadata (KIP-447), so
// the group coordinator refuses them from a member the group has moved past. With that, one
// transactional producer can commit for every partition a consumer owns, as Kafka Streams'
// exactly_once_v2 does, instead of one producer per input partition (docs/runtime.md).
//
// kafkajs 2.2.4 sends TxnOffsetCommit v0/v1, which have no place for the metadata. This module
// adds v3 (ops/txn-offset-commit-v3.ts) to kafkajs' own TxnOffsetCommit definition, so the
// rest of kafkajs' sendOffsets stays as it is: AddOffsetsToTxn, finding the group coordinator,
// its retries, the version negotiated from the broker's ApiVersions by kafkajs' lookup().
// The metadata travels beside kafkajs' call, keyed by the topics array it passes down
// unchanged (transaction.sendOffsets -> eosManager.sendOffsets -> broker.txnOffsetCommit).
// A call without metadata (kafkajs' plain sendOffsets) is encoded as before, v0/v1
// (ops/kafkajs-request-version.ts; unlike kafkajs-fixes.ts, no import order).

import { createRequire } from 'node:module'
import type { Transaction } from 'kafkajs'
import { ImflowError } from './errors.js'
import {
  addRequestVersion,
  brokerErrorType,
  type ProtocolPair,
  type RequestDefinition,
  unsupportedVersion,
} from './kafkajs-request-version.js'
import {
  decodeTxnOffsetCommitV3Response,
  encodeTxnOffsetCommitV3,
  type GroupMetadata,
  type OffsetTopic,
  TXN_OFFSET_COMMIT_API_KEY,
  TXN_OFFSET_COMMIT_FENCED_VERSION,
  type TxnOffsetCommitV3Request,
} from './txn-offset-commit-v3.js'

type TxnOffsetCommitArgs = Omit<TxnOffsetCommitV3Request, keyof GroupMetadata> & {
  groupId: string
}

const INSTALLED = Symbol.for('imflow.txnOffsetCommitV3')
const require = createRequire(import.meta.url)
const definition =
  require('kafkajs/src/protocol/requests/txnOffsetCommit/index.js') as RequestDefinition<TxnOffsetCommitArgs> & {
    [mark: symbol]: unknown
  }
// The same per-partition error check as v0/v1: kafkajs' retries key on the error types it makes.
const { parse } = require('kafkajs/src/protocol/requests/txnOffsetCommit/v0/response.js') as {
  parse(data: unknown): Promise<unknown>
}

const FENCING_ERRORS = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID'])

interface Pending {
  group: GroupMetadata
  /** The version kafkajs sent the offsets with; set only by this module's encoder. */
  sentVersion?: number
}

const pending = new WeakMap<object, Pending>()

function v3Pair(args: TxnOffsetCommitArgs, group: GroupMetadata): ProtocolPair {
  return {
    request: {
      apiKey: TXN_OFFSET_COMMIT_API_KEY,
      apiVersion: TXN_OFFSET_COMMIT_FENCED_VERSION,
      apiName: 'TxnOffsetCommit',
      encode: async () => encodeTxnOffsetCommitV3({ ...args, ...group }),
    },
    response: { decode: async (bytes) => decodeTxnOffsetCommitV3Response(bytes), parse },
  }
}

/** Adds v3 to a TxnOffsetCommit definition (kafkajs' own, or one given by a test). */
export function installFencedOffsets(
  target: RequestDefinition<TxnOffsetCommitArgs> & { [mark: symbol]: unknown },
): void {
  addRequestVersion(target, INSTALLED, TXN_OFFSET_COMMIT_FENCED_VERSION, (args, version) => {
    const entry = pending.get(args.topics)
    if (!entry) return undefined
    if (version < TXN_OFFSET_COMMIT_FENCED_VERSION) {
      throw unsupportedVersion(
        'TxnOffsetCommit',
        version,
        TXN_OFFSET_COMMIT_FENCED_VERSION,
        `(Kafka 2.5 or later) for offsets fenced by the group generation of ${entry.group.groupId}; the transaction's offsets were not sent: abort it`,
      )
    }
    entry.sentVersion = TXN_OFFSET_COMMIT_FENCED_VERSION
    return v3Pair(args, entry.group)
  })
}

installFencedOffsets(definition)

export interface FencedOffsets extends GroupMetadata {
  topics: readonly OffsetTopic[]
}

/**
 * Sends a transaction's offsets with the consumer group's metadata (TxnOffsetCommit v3).
 * Fails with IMF_ERR_GROUP_FENCED when the group has moved past that generation or member,
 * and IMF_ERR_KAFKA_UNSUPPORTED when the broker cannot fence; either way the transaction
 * must be aborted. Other errors are kafkajs' own, as from transaction.sendOffsets().
 */
export async function sendOffsetsWithGroupMetadata(
  transaction: Pick<Transaction, 'sendOffsets'>,
  offsets: FencedOffsets,
): Promise<void> {
  const { topics, ...group } = offsets
  // Generation -1 with no member id is what an admin sends: the coordinator would not fence it.
  if (!Number.isInteger(group.generationId) || group.generationId < 0 || group.memberId === '') {
    throw new ImflowError(
      'IMF_ERR_INTERNAL',
      `offsets for ${group.groupId} need a member's generation and member id to be fenced (got generation ${group.generationId}, member '${group.memberId}')`,
    )
  }
  // A fresh array: the key this call's metadata is found by, and by no other call.
  const keyed = topics.map(({ topic, partitions }) => ({
    topic,
    partitions: partitions.map((p) => ({ ...p })),
  }))
  const entry: Pending = { group: { ...group, groupInstanceId: group.groupInstanceId ?? null } }
  pending.set(keyed, entry)
  try {
    await transaction.sendOffsets({ consumerGroupId: group.groupId, topics: keyed })
  } catch (err) {
    const type = brokerErrorType(err)
    if (type && FENCING_ERRORS.has(type)) {
      throw new ImflowError(
        'IMF_ERR_GROUP_FENCED',
        `the group ${group.groupId} refused the transaction's offsets of member ${group.memberId}, generation ${group.generationId} (${type}): the group moved on; abort the transaction`,
        { cause: err, details: { ...entry.group, brokerError: type } },
      )
    }
    throw err
  } finally {
    pending.delete(keyed)
  }
  if (entry.sentVersion !== TXN_OFFSET_COMMIT_FENCED_VERSION) {
    throw new ImflowError(
      'IMF_ERR_INTERNAL',
      "kafkajs sent the transaction's offsets without imflow's TxnOffsetCommit v3, so without the group generation (is kafkajs still 2.2.4?): abort the transaction",
    )
  }
}
