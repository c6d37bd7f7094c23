// `imflow unit failover`: a standby host takes over a unit whose processes are gone. A unit is
// its topics (contract topics under its prefix, its stores' changelogs), which the cluster
// replicates; its processes hold nothing that is not there. So the standby starts that unit
// (same IMFLOW_UNIT, prefix and app id) with an empty data folder: its tasks restore their
// stores from the changelogs and go on from the committed positions — every accepted message
// was committed with its receipt, so none is lost. Other units need no change: they forward to
// the unit's topics, which did not move. The one check first: nobody runs the unit any more
// (two copies must not process at once), waiting out a dead instance's session.

import type { Admin, GroupDescription } from 'kafkajs'
import { ImflowError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Config } from './config.js'
import { runtimeId } from './provision-topics.js'

/** Three session timeouts of the stream runtime (10 s): a killed instance's members are gone by then. */
export const FAILOVER_WAIT_MS = 30_000
const POLL_MS = 1_000

/** The groups that still have members, with their hosts. */
export function liveGroups(
  groups: readonly GroupDescription[],
): { group: string; hosts: string[] }[] {
  return groups
    .filter((g) => g.members.length > 0)
    .map((g) => ({ group: g.groupId, hosts: [...new Set(g.members.map((m) => m.clientHost))] }))
}

/**
 * Returns once the unit's topics exist and none of its consumer groups has members; throws
 * IMF_ERR_UNIT_ALIVE if some still have after `waitMs`, IMF_ERR_CONFIG if there is no such unit.
 */
export async function awaitUnitDown(
  admin: Admin,
  config: Pick<Config, 'topicPrefix' | 'appId' | 'unit'>,
  log: Logger,
  waitMs = FAILOVER_WAIT_MS,
): Promise<void> {
  const ingest = `${config.topicPrefix}im.ingest`
  if (!(await admin.listTopics()).includes(ingest))
    throw new ImflowError(
      'IMF_ERR_CONFIG',
      `no unit to take over: ${ingest} does not exist. Give the failed unit's IMFLOW_TOPIC_PREFIX, IMFLOW_APP_ID and IMFLOW_UNIT.`,
    )
  const prefix = `${runtimeId(config)}-`
  const deadline = Date.now() + waitMs
  for (;;) {
    const ids = (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((id) => id.startsWith(prefix))
    const live = ids.length ? liveGroups((await admin.describeGroups(ids)).groups) : []
    if (live.length === 0) return
    if (Date.now() >= deadline) {
      const who = live.map((l) => `${l.group} (on ${l.hosts.join(', ')})`).join('; ')
      throw new ImflowError(
        'IMF_ERR_UNIT_ALIVE',
        `unit ${config.unit} still runs: ${who}. Stop or power off those instances, then run the failover again.`,
        { details: { groups: live.map((l) => l.group) } },
      )
    }
    log.info('waiting for the unit’s instances to be gone', {
      unit: config.unit,
      groups: live.map((l) => l.group),
    })
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}
