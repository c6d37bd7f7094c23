// A consumer group's positions can be moved only while nobody consumes in it: a running
// instance would overwrite them with its next commit, and its tasks' stores would no longer
// match their positions. So a replay refuses while any of the app id's groups has members.

import type { Admin } from 'kafkajs'
import { ImflowError } from '../../../errors.js'

/** Throws IMF_ERR_APP_RUNNING, naming the groups and hosts, when any group has members. */
export async function assertNoActiveMembers(
  admin: Admin,
  groups: readonly string[],
): Promise<void> {
  const { groups: described } = await admin.describeGroups([...groups])
  const busy = described.filter((g) => g.members.length > 0)
  if (busy.length === 0) return
  const who = busy
    .map(
      (g) =>
        `${g.groupId} (${g.members.length} member(s) on ${[...new Set(g.members.map((m) => m.clientHost))].join(', ')})`,
    )
    .join('; ')
  throw new ImflowError(
    'IMF_ERR_APP_RUNNING',
    `Refusing to replay: instances of this app id are running: ${who}. Stop every instance (imflow start with this IMFLOW_APP_ID) and run the replay again, or replay --into a new app id, which leaves them running.`,
    { details: { groups: busy.map((g) => g.groupId) } },
  )
}

/**
 * For a resume: a killed replay's consumers stay members until their session times out
 * (10 s, topologies/runtime/internal/runner.ts), so wait for the groups to empty, up to
 * `timeoutMs`, before refusing as assertNoActiveMembers does.
 */
export async function awaitNoActiveMembers(
  admin: Admin,
  groups: readonly string[],
  timeoutMs: number,
  onWait: () => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let waited = false
  for (;;) {
    const { groups: described } = await admin.describeGroups([...groups])
    if (described.every((g) => g.members.length === 0) || Date.now() >= deadline) break
    if (!waited) onWait()
    waited = true
    await new Promise((r) => setTimeout(r, 1_000))
  }
  await assertNoActiveMembers(admin, groups)
}
