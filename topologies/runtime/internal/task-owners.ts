// Which instance owns which task, for reads of another instance's stores. Learnt from the
// group's description (each member's advertised URL and assignment, see assignor.ts), kept
// until the next rebalance, and asked again after a join or when a read found the map stale.

import type { GroupDescription } from 'kafkajs'
import { type TaskOwner, taskOwners } from './assignor.js'

/** Between two failed descriptions (a group still rebalancing), reads answer "not ready". */
const RETRY_AFTER_MS = 250

export class TaskOwners {
  private owners: Map<number, TaskOwner> | undefined
  private refreshing: Promise<void> | undefined
  private lastAttempt = 0
  /** Bumped by each join: an answer to an older description is not kept. */
  private generation = 0
  private memberId: string | undefined

  constructor(
    private readonly describe: () => Promise<GroupDescription>,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** After this member (re)joined the group: what was known is stale. */
  joined(memberId: string): void {
    this.memberId = memberId
    this.forget()
    void this.refresh()
  }

  /** A read found the owner gone (or not serving): ask the group again on the next read. */
  forget(): void {
    this.generation++
    this.owners = undefined
    this.lastAttempt = 0
  }

  /**
   * The other instance that owns the task; undefined while nobody is known to (rebalancing),
   * or when this instance owns it itself (then it is still opening).
   */
  async owner(partition: number): Promise<TaskOwner | undefined> {
    // Twice at most: a description under way when the group changed is not kept.
    for (let tries = 0; tries < 2 && !this.owners; tries++) {
      if (this.refreshing) await this.refreshing
      else if (Date.now() - this.lastAttempt >= RETRY_AFTER_MS) await this.refresh()
      else break
    }
    const owner = this.owners?.get(partition)
    return owner && owner.memberId !== this.memberId ? owner : undefined
  }

  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const generation = this.generation
      this.lastAttempt = Date.now()
      try {
        const owners = taskOwners(await this.describe())
        if (generation === this.generation) this.owners = owners
        else this.lastAttempt = 0
      } catch (err) {
        this.onError(err)
      } finally {
        this.refreshing = undefined
      }
    })()
    return this.refreshing
  }
}
