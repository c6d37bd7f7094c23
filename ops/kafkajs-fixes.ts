// Fixes to kafkajs' internals that must be in place before kafkajs loads (kafkajs-prime.ts):
// every entry point imports this module first.

import { murmur2Fixed } from './kafkajs-murmur2.js'
import { partitionGroupingFixed } from './kafkajs-partition-grouping.js'
import { produceEncodingFixed } from './kafkajs-produce-encoding.js'
import { readCommittedFixed } from './kafkajs-read-committed.js'
import { recordDecodingFixed } from './kafkajs-record-decoding.js'

/** The fixes that are not in force (kafkajs was loaded before this module), by what they fix. */
export function kafkajsFixesMissing(): string[] {
  return [
    ...(readCommittedFixed()
      ? []
      : ['read_committed consumers may read records of aborted transactions']),
    ...(partitionGroupingFixed()
      ? []
      : ['producers group records per partition in quadratic time']),
    ...(produceEncodingFixed() ? [] : ['producers encode each record through small buffers']),
    ...(recordDecodingFixed() ? [] : ['consumers decode each record through BigInts']),
    ...(murmur2Fixed() ? [] : ['producers hash each key through BigInts']),
  ]
}
