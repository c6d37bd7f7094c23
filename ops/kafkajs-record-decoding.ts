// kafkajs decodes each fetched record's timestamp and offset through its BigInt Long: the
// varlong delta byte by byte (a few BigInts a byte), then the batch's first offset and first
// timestamp parsed from their strings, added to and printed back, per record; and its headers
// with an object spread per header. Decoding them here took a seventh off what each record
// of the runtime's count allocates (an allocation profile). The same records (test/unit/
// kafkajs-record-decoding.test.ts compares them with kafkajs' own), with plain numbers where
// they are exact (below 2^53: every offset and millisecond timestamp in practice; BigInt
// beyond). Put in kafkajs' place before it loads (ops/kafkajs-fixes.ts).

import { isPrimed, prime } from './kafkajs-prime.js'

const MODULE = 'kafkajs/src/protocol/recordBatch/record/v0/decoder.js'
/** kafkajs' TimestampTypes.LOG_APPEND_TIME. */
const LOG_APPEND_TIME = 1

/** kafkajs' Decoder: a buffer and a position in it. */
interface KafkajsDecoder {
  buffer: Buffer
  offset: number
  readInt8(): number
  readVarInt(): number
  readVarIntBytes(): Buffer | null
  readVarIntString(): string | null
}

interface BatchContext {
  firstOffset: string
  firstTimestamp: string
  magicByte: number
  isControlBatch?: boolean
  timestampType: number
  maxTimestamp: string
}

type HeaderValue = Buffer | null
type Headers = Record<string, HeaderValue | HeaderValue[]>

/** A zigzag varlong as a number when exact, else as a bigint. */
function readVarLong(decoder: KafkajsDecoder): number | bigint {
  const { buffer } = decoder
  let result = 0
  let scale = 1
  let byte: number
  let i = decoder.offset
  do {
    byte = buffer[i++] as number
    result += (byte & 0x7f) * scale
    scale *= 128
  } while (byte >= 0x80 && scale < 2 ** 49)
  if (byte >= 0x80) return readBigVarLong(decoder)
  decoder.offset = i
  // Zigzag: even is n / 2, odd is -(n + 1) / 2.
  return result % 2 === 0 ? result / 2 : -(result + 1) / 2
}

function readBigVarLong(decoder: KafkajsDecoder): bigint {
  const { buffer } = decoder
  let result = 0n
  let shift = 0n
  let byte: number
  do {
    if (shift > 63n) throw new RangeError('Invalid Long, must contain 9 bytes or less')
    byte = buffer[decoder.offset++] as number
    result |= BigInt(byte & 0x7f) << shift
    shift += 7n
  } while (byte >= 0x80)
  return (result >> 1n) ^ -(result & 1n)
}

/** `base` (a decimal string) plus `delta`, as a decimal string. */
function add(base: string, delta: number | bigint): string {
  const start = Number(base)
  if (typeof delta === 'number' && Number.isSafeInteger(start)) {
    const sum = start + delta
    if (Number.isSafeInteger(sum)) return String(sum)
  }
  return String(BigInt(base) + BigInt(delta))
}

function readHeaders(decoder: KafkajsDecoder): Headers {
  const headers: Headers = {}
  const count = decoder.readVarInt()
  for (let i = 0; i < count; i++) {
    const key = decoder.readVarIntString() as string
    const value = decoder.readVarIntBytes()
    const seen = Object.hasOwn(headers, key) ? headers[key] : undefined
    // As kafkajs: a repeated key's values in an array, in their order; an own property even
    // for a key named __proto__.
    Object.defineProperty(headers, key, {
      value: seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value],
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return headers
}

export function decodeRecord(decoder: KafkajsDecoder, batchContext: Partial<BatchContext> = {}) {
  const {
    firstOffset = '0',
    firstTimestamp = '0',
    magicByte,
    isControlBatch = false,
    timestampType,
    maxTimestamp,
  } = batchContext
  const attributes = decoder.readInt8()
  const timestampDelta = readVarLong(decoder)
  const timestamp =
    timestampType === LOG_APPEND_TIME && maxTimestamp
      ? maxTimestamp
      : add(firstTimestamp, timestampDelta)
  const offset = add(firstOffset, decoder.readVarInt())
  const key = decoder.readVarIntBytes()
  const value = decoder.readVarIntBytes()
  const headers = readHeaders(decoder)
  return {
    magicByte,
    attributes,
    timestamp,
    offset,
    key,
    value,
    headers,
    isControlRecord: isControlBatch,
    batchContext,
  }
}

prime(MODULE, decodeRecord)

/** Whether kafkajs decodes fetched records with decodeRecord (false if it loaded first). */
export function recordDecodingFixed(): boolean {
  return isPrimed(MODULE, decodeRecord)
}
