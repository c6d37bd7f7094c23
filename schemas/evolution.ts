// BACKWARD compatibility, field by field: can today's schema (the reader) read every record
// written with an earlier one (the writer)? The registry enforces the same rule on
// registration; this check runs without it and names the field that breaks.

import type avsc from 'avsc'

type AnyType = avsc.Type & Record<string, unknown>
interface Field {
  name: string
  type: AnyType
  defaultValue(): unknown
}

export function backwardProblems(reader: avsc.Type, writer: avsc.Type, path = ''): string[] {
  const r = reader as AnyType
  const w = writer as AnyType
  if (r.typeName === 'record' && w.typeName === 'record') {
    const problems: string[] = []
    const writerFields = new Map((w.fields as Field[]).map((f) => [f.name, f]))
    for (const field of r.fields as Field[]) {
      const at = `${path || String(r.name)}.${field.name}`
      const old = writerFields.get(field.name)
      if (!old) {
        if (field.defaultValue() === undefined) problems.push(`${at}: added without a default`)
      } else {
        problems.push(...backwardProblems(field.type, old.type, at))
      }
    }
    return problems
  }
  try {
    reader.createResolver(writer)
    return []
  } catch (err) {
    return [`${path || String(r.name ?? r.typeName)}: ${(err as Error).message}`]
  }
}
