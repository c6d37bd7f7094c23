// Encodes and decodes the contract's events in the Confluent wire format: a 0 byte, the
// 4-byte schema id, then the Avro body. Writer schemas are fetched once per id and resolved
// against imflow's own (reader) schema, so records written by an older or newer compatible
// schema decode into today's shape. Avro longs are JS numbers here: exact within ±2^52
// (avsc's zigzag encoding works on doubles), ample for timestamps, offsets and PTS; 64-bit
// message ids travel as decimal strings.

import avsc from 'avsc'
import { ImflowError } from '../ops/errors.js'
import { avroSchema } from './avro-schemas.js'
import type { SchemaSource } from './schema-source.js'
import type { EventName, Events } from './types.generated.js'

const MAGIC = 0
const HEADER = 5

/** Variants are Avro unions of records; in TypeScript they carry `kind` (the record's name). */
type Convert = (value: unknown) => unknown

interface Compiled {
  type: avsc.Type
  /** TypeScript shape -> avsc's (wrapped unions); undefined when the two are the same. */
  toAvro: Convert | undefined
  /** avsc's shape -> TypeScript's; undefined when the two are the same. */
  fromAvro: Convert | undefined
}

type AnyType = avsc.Type & Record<string, unknown>

function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1)
}

/** Builds the two conversions once per type; types without variants convert for free. */
function compileConversions(root: avsc.Type): Pick<Compiled, 'toAvro' | 'fromAvro'> {
  const memo = new Map<avsc.Type, [Convert | undefined, Convert | undefined]>()
  const visit = (type: AnyType): [Convert | undefined, Convert | undefined] => {
    const known = memo.get(type)
    if (known) return known
    memo.set(type, [undefined, undefined])
    let result: [Convert | undefined, Convert | undefined] = [undefined, undefined]
    switch (type.typeName) {
      case 'record': {
        const fields = (type.fields as { name: string; type: AnyType }[]).map(
          (f) => [f.name, visit(f.type)] as const,
        )
        const active = fields.filter(([, [to]]) => to !== undefined)
        if (active.length > 0) {
          const each =
            (pick: 0 | 1): Convert =>
            (value) => {
              const record = value as Record<string, unknown>
              const out: Record<string, unknown> = pick === 0 ? { ...record } : record
              for (const [name, conv] of active) {
                const f = conv[pick] as Convert
                out[name] = f(record[name])
              }
              return out
            }
          result = [each(0), each(1)]
        }
        break
      }
      case 'array': {
        const [to, from] = visit(type.itemsType as AnyType)
        if (to && from)
          result = [(v) => (v as unknown[]).map(to), (v) => (v as unknown[]).map(from)]
        break
      }
      case 'map': {
        const [to, from] = visit(type.valuesType as AnyType)
        if (to && from) {
          const mapValues = (f: Convert) => (v: unknown) =>
            Object.fromEntries(
              Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, f(x)]),
            )
          result = [mapValues(to), mapValues(from)]
        }
        break
      }
      case 'union:unwrapped': {
        const objectBranch = (type.types as AnyType[]).find((t) => t.typeName === 'record')
        if (objectBranch) {
          const [to, from] = visit(objectBranch)
          if (to && from)
            result = [(v) => (v === null ? v : to(v)), (v) => (v === null ? v : from(v))]
        }
        break
      }
      case 'union:wrapped': {
        const branches = new Map(
          (type.types as AnyType[]).map((t) => [
            shortName(String(t.name)),
            { fullName: String(t.name), conv: visit(t) },
          ]),
        )
        const byFullName = new Map(
          [...branches].map(([short, b]) => [b.fullName, { short, conv: b.conv }]),
        )
        result = [
          (value) => {
            const kind = (value as { kind?: unknown }).kind
            const branch = typeof kind === 'string' ? branches.get(kind) : undefined
            if (!branch) {
              throw new ImflowError(
                'IMF_ERR_ENCODE',
                `kind ${JSON.stringify(kind)} is not one of ${[...branches.keys()].join(', ')}`,
              )
            }
            return { [branch.fullName]: branch.conv[0] ? branch.conv[0](value) : value }
          },
          (value) => {
            const [fullName, inner] = Object.entries(value as Record<string, unknown>)[0] as [
              string,
              unknown,
            ]
            const branch = byFullName.get(fullName) as { short: string; conv: [Convert?, Convert?] }
            const out = (branch.conv[1] ? branch.conv[1](inner) : inner) as Record<string, unknown>
            out.kind = branch.short
            return out
          },
        ]
        break
      }
    }
    memo.set(type, result)
    return result
  }
  const [toAvro, fromAvro] = visit(root as AnyType)
  return { toAvro, fromAvro }
}

export function readerType(name: EventName): avsc.Type {
  return avsc.Type.forSchema(avroSchema(name) as avsc.Schema)
}

/**
 * An event type as bytes without the wire header, for state stores (variants as `kind`).
 * Entries are written and read with today's schema: a change to it that old entries cannot
 * be read with needs the store rebuilt by a replay, like any change of a store's format.
 */
export function storeCodec<N extends EventName>(
  name: N,
): { encode(value: Events[N]): Buffer; decode(bytes: Buffer): Events[N] } {
  const type = readerType(name)
  const { toAvro, fromAvro } = compileConversions(type)
  return {
    encode: (value) => type.toBuffer(toAvro ? toAvro(value) : value),
    decode: (bytes) => {
      const value = type.fromBuffer(bytes)
      return (fromAvro ? fromAvro(value) : value) as Events[N]
    },
  }
}

/** One event type bound to one subject: sync encode, async decode (a new writer id is fetched once). */
export interface EventCodec<T> {
  readonly subject: string
  readonly schemaId: number
  encode(value: T): Buffer
  decode(bytes: Buffer): Promise<T>
}

export async function createEventCodec<N extends EventName>(
  source: SchemaSource,
  subject: string,
  name: N,
): Promise<EventCodec<Events[N]>> {
  const type = readerType(name)
  const { toAvro, fromAvro } = compileConversions(type)
  const schemaId = await source.register(subject, avroSchema(name))
  // Records written with this very schema need no lookup: no registry call on the hot path.
  const resolvers = new Map<number, Promise<avsc.Resolver | undefined>>([
    [schemaId, Promise.resolve(undefined)],
  ])
  const resolverFor = (id: number): Promise<avsc.Resolver | undefined> => {
    let r = resolvers.get(id)
    if (!r) {
      r = source.schemaById(id).then((writer) => {
        try {
          const writerType = avsc.Type.forSchema(writer as avsc.Schema)
          return writerType.equals(type) ? undefined : type.createResolver(writerType)
        } catch (err) {
          throw new ImflowError(
            'IMF_ERR_DECODE',
            `schema ${id} cannot be read as ${name}: ${(err as Error).message}`,
            { cause: err },
          )
        }
      })
      // A failed lookup is not cached: the registry may answer next time.
      r.catch(() => resolvers.delete(id))
      resolvers.set(id, r)
    }
    return r
  }
  const header = Buffer.alloc(HEADER)
  header.writeUInt8(MAGIC, 0)
  header.writeUInt32BE(schemaId, 1)

  return {
    subject,
    schemaId,
    encode(value) {
      let body: Buffer
      try {
        body = type.toBuffer(toAvro ? toAvro(value) : value)
      } catch (err) {
        if (err instanceof ImflowError) throw err
        const paths: string[] = []
        type.isValid(toAvro ? toAvro(value) : value, {
          errorHook: (path) => paths.push(path.join('.')),
        })
        throw new ImflowError(
          'IMF_ERR_ENCODE',
          `${name} does not fit its schema${paths.length ? ` at ${paths.join(', ')}` : ''}: ${(err as Error).message}`,
          { cause: err },
        )
      }
      return Buffer.concat([header, body], HEADER + body.length)
    },
    async decode(bytes) {
      if (bytes.length < HEADER || bytes[0] !== MAGIC) {
        throw new ImflowError(
          'IMF_ERR_NOT_AVRO',
          bytes.length < HEADER
            ? `${bytes.length} bytes is shorter than the 5-byte Confluent header`
            : `first byte is ${bytes[0]}, not the Confluent magic byte 0`,
        )
      }
      const id = bytes.readUInt32BE(1)
      const resolver = id === schemaId ? undefined : await resolverFor(id)
      let value: unknown
      try {
        value = type.fromBuffer(bytes.subarray(HEADER), resolver)
      } catch (err) {
        throw new ImflowError(
          'IMF_ERR_DECODE',
          `${name} (schema ${id}) does not decode: ${(err as Error).message}`,
          {
            cause: err,
          },
        )
      }
      return (fromAvro ? fromAvro(value) : value) as Events[N]
    },
  }
}
