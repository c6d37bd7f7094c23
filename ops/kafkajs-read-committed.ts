// kafkajs 2.2.4's read_committed consumer lets aborted records through. A fetch answer lists
// the aborted transactions that overlap it (sorted by first offset); kafkajs walks the
// records and, per record, takes at most ONE transaction off that list. When a fetch starts
// inside an aborted transaction of one producer and the next record belongs to another
// aborted one (an instance SIGKILLed with several tasks' transactions open, then fenced), the
// second is taken off one record too late and its first record is delivered. The soak saw
// it: a receipt of an aborted transaction read, on a partition kcat (librdkafka) read clean.
// Every imflow consumer reads read_committed (topology inputs, changelog restores, receipts),
// so this breaks exactly-once.
//
// The fix is the Java client's rule (Fetcher / CompletedFetch): every aborted transaction
// whose first offset is at or before the record is in force for its producer until that
// producer's abort marker, put in kafkajs' place before it loads (ops/kafkajs-fixes.ts).
// readCommittedFixed() tells whether that worked.

import { isPrimed, prime } from './kafkajs-prime.js'

interface Fetched {
  offset: string
  key?: Buffer | null
  isControlRecord?: boolean
  batchContext: { producerId: string | number | bigint | object; inTransaction: boolean }
}

interface AbortedTransaction {
  producerId: string | number | bigint | object
  firstOffset: string | number | bigint | object
}

const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0])

/** A control record whose key says ABORT (version 0, type 0). */
function isAbortMarker(message: Fetched): boolean {
  return message.key ? Buffer.from(message.key).equals(ABORT_MARKER_KEY) : false
}

/** The records of one fetch that are not part of an aborted transaction. */
export function filterAbortedMessages<M extends Fetched>({
  messages,
  abortedTransactions,
}: {
  messages: M[]
  abortedTransactions?: readonly AbortedTransaction[] | null
}): M[] {
  if (!abortedTransactions || abortedTransactions.length === 0) return messages
  const pending = [...abortedTransactions].sort((a, b) =>
    BigInt(String(a.firstOffset)) < BigInt(String(b.firstOffset)) ? -1 : 1,
  )
  const aborted = new Set<string>()
  return messages.filter((message) => {
    const offset = BigInt(String(message.offset))
    // All of them, not one per record: several may have begun before this record.
    while (pending.length > 0 && offset >= BigInt(String(pending[0]?.firstOffset))) {
      aborted.add(String((pending.shift() as AbortedTransaction).producerId))
    }
    const producer = String(message.batchContext.producerId)
    if (isAbortMarker(message)) {
      aborted.delete(producer)
      return true
    }
    return !(message.batchContext.inTransaction && aborted.has(producer))
  })
}

const MODULE = 'kafkajs/src/consumer/filterAbortedMessages.js'
prime(MODULE, filterAbortedMessages)

/** Whether kafkajs' consumers use the fixed filter (false: kafkajs was loaded first). */
export function readCommittedFixed(): boolean {
  return isPrimed(MODULE, filterAbortedMessages)
}
