// Loads the contract's Avro schemas from schemas/avro/*.avsc — the single source of truth —
// and makes each self-contained: a reference to a shared named type (schemas/avro/shared/)
// is replaced by its definition at first use, as the registry needs it.

import { readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ImflowError } from '../ops/errors.js'

export type AvroSchema = string | AvroSchema[] | { [key: string]: unknown }

const here = dirname(fileURLToPath(import.meta.url))
const avroDir = join(here, 'avro')
const sharedDir = join(avroDir, 'shared')

const primitives = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'])

function readDir(dir: string): Map<string, AvroSchema> {
  const out = new Map<string, AvroSchema>()
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()) {
    out.set(
      basename(file, '.avsc'),
      JSON.parse(readFileSync(join(dir, file), 'utf8')) as AvroSchema,
    )
  }
  return out
}

function fullName(schema: { name?: unknown; namespace?: unknown }, namespace: string): string {
  const name = String(schema.name)
  if (name.includes('.')) return name
  const ns = typeof schema.namespace === 'string' ? schema.namespace : namespace
  return ns ? `${ns}.${name}` : name
}

/** Replaces references to shared named types by their definitions, the first time each is used. */
function inline(schema: AvroSchema, library: Map<string, AvroSchema>): AvroSchema {
  const defined = new Set<string>()
  const walk = (s: AvroSchema, namespace: string): AvroSchema => {
    if (typeof s === 'string') {
      if (primitives.has(s)) return s
      const name = s.includes('.') ? s : `${namespace}.${s}`
      if (defined.has(name)) return s
      const definition = library.get(name)
      if (!definition)
        throw new ImflowError('IMF_ERR_INTERNAL', `schemas: unknown type ${s} (looked for ${name})`)
      return walk(structuredClone(definition), namespace)
    }
    if (Array.isArray(s)) return s.map((branch) => walk(branch, namespace))
    const type = s.type as AvroSchema
    if (type === 'record' || type === 'error' || type === 'enum' || type === 'fixed') {
      const name = fullName(s, namespace)
      defined.add(name)
      const ns = name.slice(0, name.lastIndexOf('.'))
      if (type === 'enum' || type === 'fixed') return s
      const fields = (s.fields as { type: AvroSchema }[]).map((f) => ({
        ...f,
        type: walk(f.type, ns),
      }))
      return { ...s, fields }
    }
    if (type === 'array') return { ...s, items: walk(s.items as AvroSchema, namespace) }
    if (type === 'map') return { ...s, values: walk(s.values as AvroSchema, namespace) }
    return { ...s, type: walk(type, namespace) }
  }
  return walk(schema, '')
}

function load() {
  const shared = readDir(sharedDir)
  const events = readDir(avroDir)
  const library = new Map<string, AvroSchema>()
  for (const s of [...shared.values(), ...events.values()]) {
    if (typeof s === 'object' && !Array.isArray(s)) library.set(fullName(s, ''), s)
  }
  const all = new Map<string, AvroSchema>()
  for (const [name, s] of [...events, ...shared]) all.set(name, inline(s, library))
  return all
}

/** Every named event and shared record of the contract, self-contained, by its short name. */
export const avroSchemas: ReadonlyMap<string, AvroSchema> = load()

export function avroSchema(name: string): AvroSchema {
  const schema = avroSchemas.get(name)
  if (!schema) throw new ImflowError('IMF_ERR_INTERNAL', `schemas: no schema named ${name}`)
  return schema
}
