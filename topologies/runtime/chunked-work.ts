// Work that goes out a chunk per transaction and survives a crash: each key's state in a
// store (so the next chunk starts where the last commit left it), and the keys under way kept
// in memory, read from the store once and again after a rollback. A conversation's history
// moving to another unit (receiver/move-out.ts) and a user's inbox state moving home
// (inbox/user-export.ts) go out this way.

import type { KeyValueStore, MaybePromise } from '../../state/index.js'

/** Sends the next chunk of the key's work, at most `budget`; answers how much it took. */
export type ChunkStep<S> = (key: string, state: S, budget: number) => Promise<number>

export class ChunkedWork<S> {
  private keys: Set<string> | undefined

  constructor(
    private readonly store: KeyValueStore<string, S>,
    rollbacks: { onRollback(listener: () => void): void },
  ) {
    rollbacks.onRollback(() => {
      this.keys = undefined
    })
  }

  private async underWay(): Promise<Set<string>> {
    if (!this.keys) {
      const keys = new Set<string>()
      for await (const [key] of this.store.range()) keys.add(key)
      this.keys = keys
    }
    return this.keys
  }

  async has(key: string): Promise<boolean> {
    return (await this.underWay()).has(key)
  }

  get(key: string): MaybePromise<S | undefined> {
    return this.store.get(key)
  }

  /** The key's work goes on from `state`. */
  async put(key: string, state: S): Promise<void> {
    this.store.put(key, state)
    ;(await this.underWay()).add(key)
  }

  /** The key's work is done (or dropped). */
  async delete(key: string): Promise<void> {
    this.store.delete(key)
    ;(await this.underWay()).delete(key)
  }

  /** The next chunk of each key's work, `budget` in all, keys in the order they came. */
  async tick(budget: number, step: ChunkStep<S>): Promise<void> {
    const keys = await this.underWay()
    let left = budget
    for (const key of [...keys]) {
      if (left <= 0) return
      const state = await this.store.get(key)
      if (state) left -= await step(key, state, left)
      else keys.delete(key)
    }
  }
}
