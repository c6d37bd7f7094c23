// fast-check arbitraries for any of the contract's types, in the TypeScript shape the codec
// takes and gives (variants carry `kind`). Derived from the avsc type, so a schema change
// is covered without touching the tests.

import type avsc from 'avsc'
import fc from 'fast-check'

type AnyType = avsc.Type & Record<string, unknown>

export function arbitraryFor(type: avsc.Type): fc.Arbitrary<unknown> {
  const t = type as AnyType
  switch (t.typeName) {
    case 'null':
      return fc.constant(null)
    case 'boolean':
      return fc.boolean()
    case 'int':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
    case 'long':
      // avsc's zigzag arithmetic on doubles is exact to 2^52 (see codec.ts); timestamps,
      // offsets and PTS stay far below it.
      return fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 })
    case 'float':
      return fc.float({ noNaN: true }).map(Math.fround)
    case 'double':
      return fc.double({ noNaN: true })
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 20 })
    case 'bytes':
      return fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a))
    case 'enum':
      return fc.constantFrom(...(t.symbols as string[]))
    case 'array':
      return fc.array(arbitraryFor(t.itemsType as avsc.Type), { maxLength: 4 })
    case 'map':
      return fc.dictionary(fc.string({ maxLength: 8 }), arbitraryFor(t.valuesType as avsc.Type), {
        maxKeys: 4,
      })
    case 'union:unwrapped':
      return fc.oneof(...(t.types as avsc.Type[]).map(arbitraryFor))
    case 'union:wrapped':
      return fc.oneof(
        ...(t.types as AnyType[]).map((branch) => {
          const kind = String(branch.name).slice(String(branch.name).lastIndexOf('.') + 1)
          return (arbitraryFor(branch) as fc.Arbitrary<Record<string, unknown>>).map((v) => ({
            kind,
            ...v,
          }))
        }),
      )
    case 'record': {
      const fields = t.fields as { name: string; type: avsc.Type }[]
      return fc.record(Object.fromEntries(fields.map((f) => [f.name, arbitraryFor(f.type)])))
    }
    default:
      throw new Error(`no arbitrary for Avro type ${t.typeName}`)
  }
}
