import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import avsc from 'avsc'
import { describe, expect, it } from 'vitest'
import { avroSchema, avroSchemas } from '../../schemas/avro-schemas.js'
import { backwardProblems } from '../../schemas/evolution.js'
import { contractTopics } from '../../schemas/topics.js'

const baselineDir = new URL('../../schemas/baseline/', import.meta.url)
const baseline = readdirSync(baselineDir)
  .filter((f) => f.endsWith('.avsc'))
  .map(
    (f) =>
      [f.replace('.avsc', ''), JSON.parse(readFileSync(new URL(f, baselineDir), 'utf8'))] as const,
  )

function subjectOf(name: string): string {
  const topic = contractTopics.find((t) => t.valueSchema === name)
  return topic ? `${topic.base}-value` : `(internal ${name})`
}

describe('schema evolution against the stored baseline', () => {
  it('has a baseline for every schema', () => {
    expect(baseline.length).toBeGreaterThanOrEqual(contractTopics.length)
  })

  it.each(baseline)('%s: today’s schema reads records written with the baseline', (name, old) => {
    const problems = backwardProblems(
      avsc.Type.forSchema(avroSchema(name) as avsc.Schema),
      avsc.Type.forSchema(old as avsc.Schema),
    )
    expect(problems, `subject ${subjectOf(name)} is not BACKWARD compatible`).toEqual([])
  })

  it('names the field of a breaking change', () => {
    const writer = avsc.Type.forSchema({
      type: 'record',
      name: 'dev.imflow.UserEvent',
      fields: [
        { name: 'userId', type: 'string' },
        { name: 'at', type: 'long' },
      ],
    })
    const reader = avsc.Type.forSchema({
      type: 'record',
      name: 'dev.imflow.UserEvent',
      fields: [
        { name: 'userId', type: 'int' },
        { name: 'at', type: 'long' },
        { name: 'geo', type: 'string' },
        { name: 'tz', type: 'string', default: 'UTC' },
      ],
    })
    expect(backwardProblems(reader, writer)).toEqual([
      'dev.imflow.UserEvent.userId: cannot read "string" as "int"',
      'dev.imflow.UserEvent.geo: added without a default',
    ])
  })
})

describe('generated types', () => {
  // Biome runs as a child process: on a loaded machine that alone can take seconds (the
  // default 5 s timeout failed the suite under load), so the bound is generous.
  it('match the .avsc files (run `npm run generate` after changing a schema)', {
    timeout: 60_000,
  }, async () => {
    const { generateTypes, generatedTypesPath } = await import('../../schemas/generate-types.js')
    const { execFileSync } = await import('node:child_process')
    // The checked-in file is Biome-formatted; format a fresh generation the same way, with the
    // project's own Biome binary (npx would first resolve it, another second or two).
    const biome = fileURLToPath(new URL('../../node_modules/.bin/biome', import.meta.url))
    const fresh = execFileSync(biome, ['format', '--stdin-file-path', 'types.generated.ts'], {
      input: generateTypes(),
    }).toString()
    expect(fresh).toBe(readFileSync(generatedTypesPath, 'utf8'))
  })
})

describe('the .avsc files', () => {
  it('document every named type and every field, in the dev.imflow namespace', () => {
    const undocumented: string[] = []
    const walk = (s: unknown, where: string): void => {
      if (Array.isArray(s)) {
        for (const [i, branch] of s.entries()) walk(branch, `${where}|${i}`)
        return
      }
      if (typeof s !== 'object' || s === null) return
      const o = s as Record<string, unknown>
      if (o.type === 'record' || o.type === 'enum') {
        const name = String(o.name)
        if (!o.doc) undocumented.push(`type ${name}`)
        if (o.namespace !== undefined && o.namespace !== 'dev.imflow')
          undocumented.push(`namespace of ${name}`)
        for (const f of (o.fields as Record<string, unknown>[] | undefined) ?? []) {
          if (!f.doc) undocumented.push(`${name}.${String(f.name)}`)
          walk(f.type, `${name}.${String(f.name)}`)
        }
      }
      if (o.type === 'array') walk(o.items, where)
      if (o.type === 'map') walk(o.values, where)
    }
    for (const [name, schema] of avroSchemas) walk(schema, name)
    expect(undocumented).toEqual([])
  })
})
