// The consumer group metadata a fenced offset commit carries (KIP-447): the generation id
// and member id of the consumer's current membership. kafkajs 2.2.4 keeps both on its
// ConsumerGroup, which lives in a closure of the consumer and is reached by nothing public;
// its GROUP_JOIN event carries the member id but not the generation, and its HEARTBEAT event
// carries both but only one heartbeat interval after the join (too late for the first commit).
//
// So this module makes GROUP_JOIN carry the generation too: ConsumerGroup.joinAndSync() (the
// one place that emits GROUP_JOIN, right after JoinGroup + SyncGroup set the new generation,
// before the consumer fetches again) gets, per ConsumerGroup, an emitter that adds
// `generationId` to that event. It patches a prototype, not a module binding, so unlike
// kafkajs-fixes.ts it works whatever the import order, and it touches no other event.
// Callers then use the public API: consumer.on(GROUP_JOIN). That leans on two internals only
// (joinAndSync, and the fields generationId / instrumentationEmitter), and
// groupGenerationTracked() says whether they are still there (kafkajs is pinned at 2.2.4).

import { createRequire } from 'node:module'
import type { Consumer } from 'kafkajs'
import { ImflowError } from './errors.js'
import type { GroupMetadata } from './txn-offset-commit-v3.js'

interface Emitter {
  emit(name: string, payload?: Record<string, unknown>): void
}

interface ConsumerGroupInternals {
  generationId: number | null
  instrumentationEmitter: Emitter
}

const require = createRequire(import.meta.url)
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as {
  prototype: { joinAndSync?: (this: ConsumerGroupInternals) => Promise<void> }
}
const { events } = require('kafkajs/src/consumer/instrumentationEvents.js') as {
  events: { GROUP_JOIN: string }
}
const ENRICHED = Symbol.for('imflow.groupJoinWithGeneration')

function install(): boolean {
  const proto = ConsumerGroup.prototype as Record<PropertyKey, unknown>
  if (proto[ENRICHED]) return true
  const joinAndSync = ConsumerGroup.prototype.joinAndSync
  if (typeof joinAndSync !== 'function') return false
  ConsumerGroup.prototype.joinAndSync = function (this: ConsumerGroupInternals) {
    if (!Object.hasOwn(this.instrumentationEmitter, ENRICHED)) {
      const emitter = this.instrumentationEmitter
      // Delegates everything else to the consumer's own emitter (its listeners stay there).
      this.instrumentationEmitter = Object.create(emitter, {
        [ENRICHED]: { value: true },
        emit: {
          value: (name: string, payload?: Record<string, unknown>) =>
            emitter.emit(
              name,
              name === events.GROUP_JOIN
                ? { ...payload, generationId: this.generationId }
                : payload,
            ),
        },
      })
    }
    return joinAndSync.call(this)
  }
  proto[ENRICHED] = true
  return true
}

const installed = install()

/** Whether kafkajs' GROUP_JOIN events carry the generation id (false: kafkajs changed). */
export function groupGenerationTracked(): boolean {
  return installed
}

export interface GroupGeneration {
  /** The membership of the consumer's last join; undefined before it or after it stopped. */
  current(): GroupMetadata | undefined
  /** Stops listening. */
  stop(): void
}

/**
 * Follows a kafkajs consumer's group membership. Call before consumer.run(). A rebalance is
 * not reported here as it begins: a commit made meanwhile carries the generation it has, and
 * the group coordinator refuses it if the group moved on (that is the fencing).
 */
export function trackGroupGeneration(consumer: Consumer): GroupGeneration {
  if (!installed) {
    throw new ImflowError(
      'IMF_ERR_INTERNAL',
      'kafkajs has no ConsumerGroup.joinAndSync() to learn the group generation from: is kafkajs still 2.2.4?',
    )
  }
  let current: GroupMetadata | undefined
  const removers = [
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const { generationId } = payload as { generationId?: unknown }
      current =
        typeof generationId === 'number'
          ? {
              groupId: payload.groupId,
              generationId,
              memberId: payload.memberId,
              // kafkajs has no static membership (KIP-345).
              groupInstanceId: null,
            }
          : undefined
    }),
    consumer.on(consumer.events.STOP, () => {
      current = undefined
    }),
    consumer.on(consumer.events.CRASH, () => {
      current = undefined
    }),
  ]
  return {
    current: () => current,
    stop: () => {
      for (const remove of removers) remove()
    },
  }
}
