// A device's position in each large group it follows (docs/sync.md, "Large groups"): the
// newest seq it holds. Large groups' messages come outside the PTS stream, numbered per
// conversation without gaps, so a device sees exactly what it missed: a seq past the next one
// means pull the gap first; a repeat is dropped. Pure: no sockets, no HTTP.

import type { RoomHead } from '../protocol/frames.js'

export type RoomStep =
  /** Apply the event (the next seq, an update that takes no seq, or a group not followed yet). */
  | { kind: 'apply' }
  /** Held already. */
  | { kind: 'skip' }
  /** Pull the messages after `after` first, then apply. */
  | { kind: 'pull'; after: number }

/** What a heads frame asks of a group: pull after a seq, or (never followed) load its latest page. */
export interface CatchUp {
  conversationId: string
  head: number
  /** undefined: the device holds nothing of the group's sequence yet. */
  after: number | undefined
}

export class RoomCursors {
  private readonly seqs: Map<string, number>

  constructor(initial: Readonly<Record<string, number>> = {}) {
    this.seqs = new Map(Object.entries(initial))
  }

  get(conversationId: string): number | undefined {
    return this.seqs.get(conversationId)
  }

  /** Moves the group's position forward (never back). */
  advance(conversationId: string, seq: number): void {
    const held = this.seqs.get(conversationId)
    if (held === undefined || seq > held) this.seqs.set(conversationId, seq)
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.seqs)
  }

  step(conversationId: string, seq: number): RoomStep {
    const held = this.seqs.get(conversationId)
    if (seq === 0 || held === undefined || seq === held + 1) return { kind: 'apply' }
    if (seq <= held) return { kind: 'skip' }
    return { kind: 'pull', after: held }
  }

  /**
   * The groups a heads frame lists that the device lacks something of; groups it no longer
   * lists (left, or small again) are not followed any more.
   */
  plan(heads: readonly RoomHead[]): CatchUp[] {
    const listed = new Set(heads.map((h) => h.conversationId))
    for (const conversationId of [...this.seqs.keys()]) {
      if (!listed.has(conversationId)) this.seqs.delete(conversationId)
    }
    const work: CatchUp[] = []
    for (const { conversationId, seq: head } of heads) {
      const after = this.seqs.get(conversationId)
      if (after === undefined && head === 0) this.seqs.set(conversationId, 0)
      else if (after === undefined || after < head) work.push({ conversationId, head, after })
    }
    return work
  }
}
