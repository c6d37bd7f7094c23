// Generates schemas/types.generated.ts from the .avsc files, through avsc's own reading of
// them, so the TypeScript types say exactly what the codec produces. A unit test fails
// when the checked-in file differs from a fresh generation: `npm run generate` fixes it.

import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import avsc from 'avsc'
import { ImflowError } from '../ops/errors.js'
import { avroSchemas } from './avro-schemas.js'

type AnyType = avsc.Type & Record<string, unknown>

function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1)
}

function comment(doc: unknown, indent: string): string {
  return typeof doc === 'string' && doc ? `${indent}/** ${doc.replace(/\*\//g, '*\\/')} */\n` : ''
}

/** The declarations of every record and enum reachable from the contract's schemas. */
class Declarations {
  private readonly declarations = new Map<string, string>()
  /** Records that are branches of a wrapped union get a `kind` discriminator (see codec.ts). */
  private readonly variants = new Set<string>()

  /** The TypeScript type of an Avro type; records and enums are declared on the way. */
  ref(type: AnyType): string {
    switch (type.typeName) {
      case 'null':
        return 'null'
      case 'boolean':
        return 'boolean'
      case 'int':
      case 'long':
      case 'float':
      case 'double':
        return 'number'
      case 'string':
        return 'string'
      case 'bytes':
        return 'Buffer'
      case 'array':
        return `${wrap(this.ref(type.itemsType as AnyType))}[]`
      case 'map':
        return `Record<string, ${this.ref(type.valuesType as AnyType)}>`
      case 'union:unwrapped':
        return (type.types as AnyType[]).map((t) => this.ref(t)).join(' | ')
      case 'union:wrapped':
        for (const branch of type.types as AnyType[]) {
          if (branch.typeName !== 'record')
            throw new ImflowError(
              'IMF_ERR_INTERNAL',
              `wrapped union with non-record branch ${branch.typeName}`,
            )
          this.variants.add(String(branch.name))
        }
        return (type.types as AnyType[]).map((t) => this.ref(t)).join(' | ')
      case 'enum':
      case 'record':
        this.declare(type)
        return shortName(String(type.name))
      default:
        throw new ImflowError(
          'IMF_ERR_INTERNAL',
          `generate-types: unsupported Avro type ${type.typeName}`,
        )
    }
  }

  private declare(type: AnyType): void {
    const name = String(type.name)
    if (this.declarations.has(name)) return
    this.declarations.set(name, '') // reserve: recursion and repeats
    const doc = comment(type.doc, '')
    if (type.typeName === 'enum') {
      const symbols = (type.symbols as string[]).map((s) => `'${s}'`).join(' | ')
      this.declarations.set(name, `${doc}export type ${shortName(name)} = ${symbols}\n`)
      return
    }
    // A field added later with a null default may be left out when writing (avsc writes the
    // default), so code that predates it needs no change; it reads back as null.
    const fields = (
      type.fields as { name: string; type: AnyType; doc?: string; defaultValue(): unknown }[]
    )
      .map((f) => {
        const optional = f.defaultValue() === null ? '?' : ''
        return `${comment(f.doc, '  ')}  ${f.name}${optional}: ${this.ref(f.type)}\n`
      })
      .join('')
    // Whether it needs a kind line is known only once every union was seen: see render().
    this.declarations.set(
      name,
      `${doc}export interface ${shortName(name)} {\n@@KIND:${name}@@${fields}}\n`,
    )
  }

  /** Every declaration, sorted by name, variants with their `kind` line. */
  render(): string {
    return [...this.declarations.entries()]
      .sort(([a], [b]) => shortName(a).localeCompare(shortName(b)))
      .map(([name, text]) =>
        text.replace(
          `@@KIND:${name}@@`,
          this.variants.has(name)
            ? `  /** Which variant this is (the Avro union branch). */\n  kind: '${shortName(name)}'\n`
            : '',
        ),
      )
      .join('\n')
  }
}

const wrap = (t: string) => (t.includes('|') ? `(${t})` : t)

export function generateTypes(): string {
  const declarations = new Declarations()
  for (const schema of avroSchemas.values())
    declarations.ref(avsc.Type.forSchema(schema as avsc.Schema) as AnyType)
  const names = [...avroSchemas.keys()].sort()
  return [
    '// Generated from schemas/avro/*.avsc by schemas/generate-types.ts. Do not edit: run `npm run generate`.',
    '// Timestamps (logicalType timestamp-millis) are epoch milliseconds.',
    '',
    declarations.render(),
    '/** Every top-level schema of the contract by name, with its TypeScript type. */',
    'export interface Events {',
    ...names.map((n) => `  ${n}: ${n}`),
    '}',
    '',
    'export type EventName = keyof Events',
    '',
  ].join('\n')
}

export const generatedTypesPath = fileURLToPath(new URL('./types.generated.ts', import.meta.url))

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(generatedTypesPath, generateTypes())
  process.stdout.write(`wrote ${generatedTypesPath}\n`)
}
