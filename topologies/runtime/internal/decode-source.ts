// A source record's value as a processor gets it: decoded by its source's decoder; a
// tombstone passes as null only where the source says it means something. The task and a
// store's backfill (backfill.ts) decode alike, so a fold sees what the processor saw.

import { ImflowError } from '../../../ops/errors.js'
import type { SourceDefinition } from '../topology.js'

/**
 * Throws a non-retriable error for a record the task dead-letters. Answers at once where the
 * decoder does (most do): the task awaits only a promise.
 */
export function decodeSourceValue(
  source: SourceDefinition | undefined,
  value: Buffer | null,
): unknown {
  if (!source?.decode) return value
  if (value === null) {
    if (source.tombstones) return null
    throw new ImflowError(
      'IMF_ERR_DECODE',
      'the record has no value (a tombstone where an event was expected)',
    )
  }
  return source.decode(value)
}
