// Where a task goes on reading a source topic when it opens. The group's committed offset is
// the rule; the task's own record of it is the check. Each transaction writes the positions
// it commits to the group into the task's first changelog too (POSITION records, same
// transaction), so the stores know how far the commits they hold went.
//
// A group answering less than that with a commit a task wrote (TASK_COMMIT_METADATA) answers
// an older commit than its last. Kafka 4.1's group coordinator did so after a broker restart:
// a load of an older leader epoch completed while a newer load was still replaying the log,
// and the coordinator served its half-loaded state (docs/reliability.md, "Stale committed
// offsets"). Following it would process half an hour of records again over stores that hold
// them. A rewind someone meant (`imflow replay`, kafka-consumer-groups --reset-offsets, an
// admin's setOffsets) carries other metadata, and is followed.

/** The metadata of every offset a task commits. */
export const TASK_COMMIT_METADATA = 'imflow-task'

export interface GroupCommit {
  readonly offset: number
  readonly metadata: string | null
}

export type StartPosition =
  /** The group's offset (none: the consumer's reset policy decides). */
  | { readonly from: 'group'; readonly offset: number | undefined }
  /** The task's own, past what the group answered (or the group answered nothing). */
  | { readonly from: 'own'; readonly offset: number; readonly groupOffset: number | undefined }

export function startPosition(
  group: GroupCommit | undefined,
  own: number | undefined,
): StartPosition {
  if (own === undefined || (group && group.offset >= own))
    return { from: 'group', offset: group?.offset }
  if (group && group.metadata !== TASK_COMMIT_METADATA)
    return { from: 'group', offset: group.offset }
  return { from: 'own', offset: own, groupOffset: group?.offset }
}
