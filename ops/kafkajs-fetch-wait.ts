// A consumer's fetch wait, chosen per fetch. kafkajs 2.2.4 waits the consumer's
// maxWaitTimeInMs on every fetch: the broker holds a fetch that long for data, and kafkajs
// sleeps that long when every partition is paused. A partition its task paused is fetched
// only in the round after it resumes, so while a busy partition waits for its task's commit,
// that round is a long poll on the others. This module lets a caller shorten the wait while
// a partition is paused for its task (runner.ts).
//
// kafkajs reads the wait from ConsumerGroup's `maxWaitTime` field, set once in its
// constructor; a prototype accessor keeps what the constructor sets and answers the caller's
// shorter wait while it has one. The ConsumerGroup is found by its member id, which the
// consumer's GROUP_JOIN event names (a new one after each crash and rejoin).

import { createRequire } from 'node:module'
import type { Consumer } from 'kafkajs'

const require = createRequire(import.meta.url)
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: object }

const CONFIGURED = Symbol.for('imflow.configuredMaxWaitTime')
const INSTALLED = Symbol.for('imflow.fetchWaitAccessor')

/** A shorter wait than the configured one, in ms, or undefined for the configured one. */
export type FetchWait = () => number | undefined

/** By the member id of the consumer group's current membership. */
const waits = new Map<string, FetchWait>()
/** Off: every consumer waits its configured time (the benches' A/B). */
let adapting = true

/** Whether adaptFetchWait's waits apply, process-wide (for A/B measurements). */
export function setFetchWaitAdapting(on: boolean): void {
  adapting = on
}

interface GroupFields {
  memberId: string | null
  [CONFIGURED]?: number
}

function install(): void {
  const proto = ConsumerGroup.prototype as Record<PropertyKey, unknown>
  if (proto[INSTALLED]) return
  Object.defineProperty(proto, 'maxWaitTime', {
    configurable: true,
    get(this: GroupFields) {
      const configured = this[CONFIGURED] ?? 5_000
      const shorter = !adapting || this.memberId === null ? undefined : waits.get(this.memberId)?.()
      return shorter === undefined ? configured : Math.min(shorter, configured)
    },
    set(this: GroupFields, ms: number) {
      this[CONFIGURED] = ms
    },
  })
  proto[INSTALLED] = true
}

install()

/** Lets `wait` shorten the consumer's fetch wait from its next join on. Call before consumer.run(). */
export function adaptFetchWait(consumer: Consumer, wait: FetchWait): void {
  let member: string | undefined
  const forget = () => {
    if (member !== undefined) waits.delete(member)
    member = undefined
  }
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    forget()
    member = payload.memberId
    waits.set(member, wait)
  })
  consumer.on(consumer.events.STOP, forget)
  consumer.on(consumer.events.CRASH, forget)
}
