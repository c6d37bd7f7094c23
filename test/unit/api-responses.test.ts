// The API's response schemas (connectors/protocol/api-responses.ts): their enums are the
// contract's Avro enums, and each is a schema Ajv (what fastify builds on) compiles and that
// accepts the answers the routes give and refuses what they never give.

import { readFile } from 'node:fs/promises'
import { Ajv } from 'ajv'
import { describe, expect, it } from 'vitest'
import {
  apiEnums,
  catchUpPageSchema,
  conversationListSchema,
  historyPageSchema,
} from '../../connectors/protocol/api-responses.js'

/** The contract's enums, as generated from the Avro schemas (kept in step by evolution.test.ts). */
async function avroEnums(): Promise<Map<string, string[]>> {
  const generated = await readFile(
    new URL('../../schemas/types.generated.ts', import.meta.url),
    'utf8',
  )
  const enums = new Map<string, string[]>()
  for (const m of generated.matchAll(/^export type (\w+) = ('[^\n]+)$/gm)) {
    enums.set(
      m[1] as string,
      [...(m[2] as string).matchAll(/'([^']+)'/g)].map((x) => x[1] as string),
    )
  }
  return enums
}

describe('the API response schemas', () => {
  it('name the same enum symbols as the Avro contract', async () => {
    const contract = await avroEnums()
    for (const [name, symbols] of Object.entries(apiEnums)) {
      expect(contract.get(name), name).toEqual([...symbols])
    }
  })

  it('accept the answers the routes give, and refuse others', () => {
    const ajv = new Ajv({ allErrors: true })
    const message = {
      msgId: '1',
      senderId: 'ann',
      type: 'TEXT',
      body: 'hi',
      createdAt: 1,
      priority: 'HIGH',
      visibility: 'NORMAL',
    }
    const history = ajv.compile(historyPageSchema)
    expect(history({ messages: [message], next: null })).toBe(true)
    expect(history({ messages: [{ ...message, seq: 3 }], next: 'abc' })).toBe(true)
    expect(history({ messages: [{ ...message, type: 'VIDEO' }], next: null })).toBe(false)
    const catchUp = ajv.compile(catchUpPageSchema)
    expect(catchUp({ messages: [], headSeq: 5, next: null, reload: true })).toBe(true)
    expect(catchUp({ messages: [], next: null })).toBe(false)
    const list = ajv.compile(conversationListSchema)
    const entry = { conversationId: 'c', large: false, unread: 0, last: null }
    expect(list({ conversations: [entry, { ...entry, remote: true }] })).toBe(true)
    expect(list({ conversations: [{ ...entry, unread: '2' }] })).toBe(false)
  })
})
