// Dead letters: a record that cannot be decoded (or, later, processed) is written with its
// raw bytes, headers, origin and the error to the dead-letter topic, and the partition
// moves on. Only non-retriable errors land here; a registry outage is retried instead.

import type { Producer } from 'kafkajs'
import { type ErrorCode, ImflowError, isImflowError } from '../../ops/errors.js'
import type { EventCodec } from '../../schemas/codec.js'
import type { DeadLetter } from '../../schemas/types.generated.js'

/** The parts of a consumed record a dead letter keeps. */
export interface SourceRecord {
  topic: string
  partition: number
  offset: string
  key: Buffer | null
  value: Buffer | null
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>
}

/** Where a topology's dead letters go, in the same transaction as its other outputs. */
export interface DeadLetterEncoder {
  topic: string
  encode(letter: DeadLetter): Buffer
}

export interface DeadLetterSink {
  send(letter: DeadLetter): Promise<void>
}

export function deadLetterFor(
  record: SourceRecord,
  error: unknown,
  context: { stage: string; application: string; now?: number },
): DeadLetter {
  const headers: DeadLetter['headers'] = []
  for (const [key, raw] of Object.entries(record.headers ?? {})) {
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      headers.push({ key, value: v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(v) })
    }
  }
  const errorCode: ErrorCode | 'UNCLASSIFIED' = isImflowError(error) ? error.code : 'UNCLASSIFIED'
  return {
    sourceTopic: record.topic,
    sourcePartition: record.partition,
    sourceOffset: Number(record.offset),
    key: record.key,
    value: record.value,
    headers,
    errorCode,
    errorMessage: error instanceof Error ? error.message : String(error),
    stage: context.stage,
    application: context.application,
    failedAt: context.now ?? Date.now(),
  }
}

export function kafkaDeadLetterSink(
  producer: Producer,
  topic: string,
  codec: EventCodec<DeadLetter>,
): DeadLetterSink {
  return {
    async send(letter) {
      await producer.send({
        topic,
        messages: [{ key: letter.sourceTopic, value: codec.encode(letter) }],
      })
    },
  }
}

/**
 * Decodes a record's value. A record that can never decode goes to the dead letters and
 * yields undefined (skip it); a retriable failure (the registry is down) is thrown, so the
 * record is not skipped and is tried again.
 */
export async function decodeOrDeadLetter<T>(
  record: SourceRecord,
  codec: EventCodec<T>,
  deadLetters: DeadLetterSink,
  application: string,
): Promise<T | undefined> {
  try {
    if (record.value === null) {
      throw new ImflowError(
        'IMF_ERR_DECODE',
        'the record has no value (a tombstone where an event was expected)',
      )
    }
    return await codec.decode(record.value)
  } catch (err) {
    if (isImflowError(err) && err.retriable) throw err
    await deadLetters.send(deadLetterFor(record, err, { stage: 'decode', application }))
    return undefined
  }
}
