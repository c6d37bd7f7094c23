// withoutDeleted(): a conversation's log without what the user deleted for themself, the
// deletions looked up a growing chunk at a time, side by side.

import { describe, expect, it } from 'vitest'
import type { StoredMessage } from '../../schemas/types.generated.js'
import { withoutDeleted } from '../../topologies/inbox/history.js'
import type { Positioned } from '../../topologies/model/index.js'

const entry = (msgId: string): Positioned => ({
  position: Buffer.from(msgId),
  message: { msgId } as StoredMessage,
})

/** A log of `n` entries that counts how many were read. */
function log(n: number) {
  const read = { count: 0 }
  async function* entries(): AsyncGenerator<Positioned> {
    for (let i = 0; i < n; i++) {
      read.count++
      yield entry(String(i))
    }
  }
  return { entries: entries(), read }
}

describe('withoutDeleted', () => {
  it('keeps the order and drops what the user deleted, the last short chunk included', async () => {
    const { entries } = log(100)
    const kept: string[] = []
    for await (const e of withoutDeleted(entries, async (id) => Number(id) % 3 === 0))
      kept.push(e.message.msgId)
    expect(kept).toEqual(
      Array.from({ length: 100 }, (_, i) => String(i)).filter((id) => Number(id) % 3 !== 0),
    )
  })

  it('looks a chunk’s deletions up side by side, and reads little ahead for the newest', async () => {
    const { entries, read } = log(1_000)
    let inFlight = 0
    let most = 0
    const deleted = async () => {
      most = Math.max(most, ++inFlight)
      await new Promise((r) => setImmediate(r))
      inFlight--
      return false
    }
    const visible = withoutDeleted(entries, deleted)
    const first = await visible.next()
    expect(first.value?.message.msgId).toBe('0')
    expect(read.count).toBe(4) // the first chunk only
    expect(most).toBe(4)
    let taken = 1
    for await (const _ of visible) if (++taken === 200) break
    expect(most).toBe(64) // chunks grew to their most
    expect(read.count).toBeLessThan(300)
  })
})
