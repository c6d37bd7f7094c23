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
