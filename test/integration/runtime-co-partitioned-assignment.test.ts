// Regression (issue #5): with kafkajs' round-robin assignor, three instances of a topology
// with two co-partitioned sources of two partitions each got [a0, a1, b0, b1] spread as
// a0 -> 1st, a1 -> 2nd, b0 -> 3rd, b1 -> 1st: task 0 opened in two instances, which fenced
// each other. Each task (partition number) must have one owner for all its topics, and the
// group's description must tell every instance which instance (URL) that is.

import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { peerStoreClient } from '../../connectors/http/peer-client.js'
import { silentLogger } from '../../ops/log.js'
import {
  defineTopology,
  type RunningTopology,
  startTopology,
} from '../../topologies/runtime/index.js'
import { taskOwners } from '../../topologies/runtime/internal/assignor.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import { scratchState, testScope } from './runtime-support.js'

const INSTANCES = 3
const PER_PARTITION = 50

describe('runtime: co-partitioned assignment over several instances', () => {
  const left = unique('cop-left')
  const right = unique('cop-right')
  const app = unique('cop-app')
  const group = `${app}-cop`
  const state = scratchState('cop', { [left]: 2, [right]: 2 })

  it('gives partition p of both topics to one instance, and the group knows its URL', {
    timeout: 120_000,
  }, async () => {
    /** `<topic>:<partition>` -> the instances that processed its records. */
    const processedBy = new Map<string, Set<string>>()
    let processed = 0
    const topology = (instance: string) =>
      defineTopology({
        name: 'cop',
        sources: [{ topic: left }, { topic: right }],
        stores: ['seen'],
        processor: (context) => ({
          process(record) {
            context
              .store('seen')
              .put(Buffer.from(`${record.topic}:${record.offset}`), Buffer.from(instance))
            const where = `${record.topic}:${record.partition}`
            processedBy.set(where, (processedBy.get(where) ?? new Set()).add(instance))
            processed++
          },
        }),
      })
    const urls = Array.from({ length: INSTANCES }, (_, i) => `http://instance-${i}.invalid:8080`)
    const running: RunningTopology[] = []
    try {
      for (const [i, url] of urls.entries()) {
        running.push(
          await startTopology(topology(url), {
            kafka: testKafka(unique(`cop-${i}`)),
            appId: app,
            transactionScope: testScope(),
            stateDir: join(state.dir, String(i)),
            log: silentLogger,
            sessionTimeoutMs: 6_000,
            peers: { advertisedUrl: url, client: peerStoreClient({ jwtSecret: 'x'.repeat(16) }) },
          }),
        )
      }
      // Records only once all three are in a stable group: nothing is processed by an
      // instance that is about to hand its task over.
      const owners = await eventually(
        () =>
          withAdmin(async (admin) => {
            const { groups } = await admin.describeGroups([group])
            const described = groups[0]
            if (!described || described.members.length !== INSTANCES) return undefined
            const owners = taskOwners(described)
            return owners?.size === 2 ? owners : undefined
          }),
        { timeoutMs: 60_000, what: 'a stable group of three with both tasks assigned' },
      )
      expect(new Set([...owners.values()].map((o) => o.url)).size).toBe(2)
      for (const owner of owners.values()) expect(urls).toContain(owner.url)

      const producer = testKafka().producer()
      await producer.connect()
      for (const topic of [left, right]) {
        await producer.send({
          topic,
          messages: Array.from({ length: 2 * PER_PARTITION }, (_, i) => ({
            partition: i % 2,
            value: String(i),
          })),
        })
      }
      await producer.disconnect()
      await eventually(() => (processed >= 4 * PER_PARTITION ? true : undefined), {
        what: `${4 * PER_PARTITION} records processed (have ${processed})`,
      })

      for (const p of [0, 1]) {
        const owner = owners.get(p)?.url
        const both = new Set([
          ...(processedBy.get(`${left}:${p}`) ?? []),
          ...(processedBy.get(`${right}:${p}`) ?? []),
        ])
        expect({ task: p, processedBy: [...both] }).toEqual({ task: p, processedBy: [owner] })
        // Both topics' partition p, processed by the one instance the group names.
        expect([...(processedBy.get(`${left}:${p}`) ?? [])]).toEqual([owner])
        expect([...(processedBy.get(`${right}:${p}`) ?? [])]).toEqual([owner])
        // The task is open in exactly that instance.
        const openIn = running
          .map((r, i) => (r.committedStore(p, 'seen') ? urls[i] : undefined))
          .filter(Boolean)
        expect(openIn).toEqual([owner])
      }
    } finally {
      for (const r of running) await r.stop()
    }
  })
})
