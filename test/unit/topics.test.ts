import { describe, expect, it } from 'vitest'
import { contractTopics, topicName } from '../../schemas/topics.js'

describe('contract topics', () => {
  it('are unique, named im.*, and compacted exactly where they are tables', () => {
    const names = contractTopics.map((t) => t.base)
    expect(new Set(names).size).toBe(names.length)
    expect(names.every((n) => n.startsWith('im.'))).toBe(true)
    expect(contractTopics.filter((t) => t.compacted).map((t) => t.base)).toEqual([
      'im.conversations',
      'im.users',
    ])
  })

  it('take the configured prefix', () => {
    expect(topicName('eu.', 'im.ingest')).toBe('eu.im.ingest')
    expect(topicName('', 'im.sync')).toBe('im.sync')
  })
})
