import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../ops/log.js'
import type { Task } from '../../topologies/runtime/internal/task.js'
import { TaskSet } from '../../topologies/runtime/internal/task-set.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('TaskSet', () => {
  it('opens a task reopened twice at once only after its close is through', async () => {
    const events: string[] = []
    let opened = 0
    const set = new TaskSet(
      'demo',
      async (partition) => {
        const name = `task-${partition}#${++opened}`
        events.push(`open ${name}`)
        return {
          async close() {
            events.push(`closing ${name}`)
            await sleep(50)
            events.push(`closed ${name}`)
          },
        } as unknown as Task
      },
      silentLogger,
    )
    set.assign(new Set([0]))
    await set.open(0)
    // Two failed batches of the same task: each reopens it (batch-handler.ts).
    await Promise.all([set.reopen(0), set.reopen(0)])
    await set.open(0)
    // RocksDB's lock refuses a second open while the first still holds the stores.
    expect(events).toEqual([
      'open task-0#1',
      'closing task-0#1',
      'closed task-0#1',
      'open task-0#2',
    ])
    await set.closeAll()
  })
})
