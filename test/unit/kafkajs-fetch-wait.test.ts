import { createRequire } from 'node:module'
import type { Consumer } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { adaptFetchWait, setFetchWaitAdapting } from '../../ops/kafkajs-fetch-wait.js'

const require = createRequire(import.meta.url)
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: object }

/** kafkajs' ConsumerGroup fields the fetch reads, on its real prototype (the constructor needs a cluster). */
function consumerGroup(maxWaitTimeInMs: number) {
  const group = Object.create(ConsumerGroup.prototype) as {
    maxWaitTime: number
    memberId: string | null
  }
  group.maxWaitTime = maxWaitTimeInMs // as kafkajs' constructor sets it
  group.memberId = null
  return group
}

/** The consumer's events, as adaptFetchWait listens to them. */
function consumerEvents() {
  const listeners = new Map<string, ((e: { payload: { memberId: string } }) => void)[]>()
  const consumer = {
    events: { GROUP_JOIN: 'join', STOP: 'stop', CRASH: 'crash' },
    on: (name: string, listener: (e: { payload: { memberId: string } }) => void) => {
      listeners.set(name, [...(listeners.get(name) ?? []), listener])
      return () => {}
    },
  }
  const emit = (name: string, memberId = '') => {
    for (const l of listeners.get(name) ?? []) l({ payload: { memberId } })
  }
  return { consumer: consumer as unknown as Consumer, emit }
}

describe('adaptFetchWait', () => {
  it("shortens the joined member's fetch wait while asked, never lengthens it", () => {
    const group = consumerGroup(50)
    const { consumer, emit } = consumerEvents()
    let wait: number | undefined = 5
    adaptFetchWait(consumer, () => wait)
    expect(group.maxWaitTime).toBe(50) // not joined yet
    group.memberId = 'member-1'
    emit('join', 'member-1')
    expect(group.maxWaitTime).toBe(5)
    wait = undefined
    expect(group.maxWaitTime).toBe(50)
    wait = 500
    expect(group.maxWaitTime).toBe(50)
    wait = 5
    setFetchWaitAdapting(false) // the benches' A/B
    expect(group.maxWaitTime).toBe(50)
    setFetchWaitAdapting(true)
    expect(group.maxWaitTime).toBe(5)
    // Another member (another consumer of the group in this process) keeps its own wait.
    const other = consumerGroup(100)
    other.memberId = 'member-2'
    expect(other.maxWaitTime).toBe(100)
    // A rejoin after a crash comes with a new member id; the old one is forgotten.
    emit('crash')
    expect(group.maxWaitTime).toBe(50)
    group.memberId = 'member-3'
    emit('join', 'member-3')
    expect(group.maxWaitTime).toBe(5)
    emit('stop')
    expect(group.maxWaitTime).toBe(50)
  })
})
