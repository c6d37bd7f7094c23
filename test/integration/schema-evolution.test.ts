// The real registry enforces BACKWARD compatibility per subject: the stored baseline is
// registered first, then today's contract must register on top of it; a breaking change is
// refused with IMF_ERR_SCHEMA_INCOMPATIBLE naming the subject.

import { readFileSync } from 'node:fs'
import { describe, expect, inject, it } from 'vitest'
import { isImflowError } from '../../ops/errors.js'
import { registerContract, valueSubject } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import { contractTopics, topicName } from '../../schemas/topics.js'
import { unique } from './helpers.js'

const baseline = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../schemas/baseline/${name}.avsc`, import.meta.url), 'utf8'))

describe('schema evolution in the registry', () => {
  it('registers today’s contract on top of the baseline, every subject', async () => {
    const prefix = `${unique('evo')}.`
    const source = registrySchemaSource(inject('schemaRegistryUrl'))
    for (const t of contractTopics) {
      await source.register(valueSubject(topicName(prefix, t.base)), baseline(t.valueSchema))
    }
    const codecs = await registerContract(source, prefix)
    expect(Object.keys(codecs).sort()).toEqual(contractTopics.map((t) => t.base).sort())
    for (const codec of Object.values(codecs)) expect(codec.schemaId).toBeGreaterThan(0)
  })

  it('refuses a breaking change, naming the subject', async () => {
    const subject = valueSubject(`${unique('evo-break')}.im.users`)
    const source = registrySchemaSource(inject('schemaRegistryUrl'))
    const v1 = baseline('UserEvent')
    await source.register(subject, v1)
    const broken = { ...v1, fields: [...v1.fields, { name: 'timezone', type: 'string' }] }
    const err = await source.register(subject, broken).catch((e) => e)
    expect(isImflowError(err, 'IMF_ERR_SCHEMA_INCOMPATIBLE')).toBe(true)
    expect(err.message).toContain(subject)
  })
})
