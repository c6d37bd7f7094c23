// The failover half of the units benchmark (docs/runbooks.md, "A unit lost"): unit 0's process
// is SIGKILLed while unit 1's API posts to a group homed in unit 0; `imflow unit failover` on a
// standby (an empty data folder) takes the unit over from its replicated topics. Measured from
// the kill: the standby ready (/readyz 200), and the first message accepted by it.

import type { Admin } from 'kafkajs'
import { parseMsgId } from '../schemas/msg-id.js'
import { waitFor } from './broker.js'
import { startUnitProcess, type UnitProcess } from './unit-process.js'

export interface Failover {
  readySeconds: number
  firstAcceptedSeconds: number
  /** Records in the unit's changelogs: what the standby read to restore its stores. */
  changelogRecords: number
  standby: UnitProcess
}

type Call = (url: string, method: string, path: string, body: unknown) => Promise<Response>

/** Records over every partition of the changelog topics under the unit's prefix. */
async function changelogRecords(admin: Admin, prefix: string): Promise<number> {
  const topics = (await admin.listTopics()).filter(
    (t) => t.startsWith(prefix) && t.endsWith('-changelog'),
  )
  let sum = 0
  for (const topic of topics)
    for (const p of await admin.fetchTopicOffsets(topic)) sum += Number(p.high) - Number(p.low)
  return sum
}

/** A message posted to unit 1's API for the group homed in unit 0, retried until accepted. */
async function postUntilAccepted(call: Call, url: string, clientMsgId: string): Promise<string> {
  let msgId = ''
  await waitFor(async () => {
    const res = await call(url, 'POST', '/v1/messages', {
      conversationId: 'failover',
      clientMsgId,
      type: 'TEXT',
      body: clientMsgId,
    }).catch(() => undefined)
    if (res?.status === 200) msgId = ((await res.json()) as { msgId: string }).msgId
    return msgId !== ''
  }, 300_000)
  if (parseMsgId(msgId).unit !== 0) throw new Error(`not accepted by unit 0: ${msgId}`)
  return msgId
}

export async function measureFailover(options: {
  unit0: UnitProcess
  unit0Env: Record<string, string>
  unit1Url: string
  prefix: string
  admin: Admin
  /** As an admin for the creation, as ann for the messages. */
  call: { admin: Call; ann: Call }
}): Promise<Failover> {
  const { unit0, unit1Url, call } = options
  const created = await call.admin(unit1Url, 'POST', '/v1/conversations', {
    conversationId: 'failover',
    type: 'GROUP',
    members: ['ann', 'bob', 'cat'],
    unit: '0',
  })
  if (created.status !== 201) throw new Error(`creating the failover group: ${created.status}`)
  await postUntilAccepted(call.ann, unit1Url, 'failover-before')
  await unit0.stop(true)
  const killedAt = Date.now()
  const standby = startUnitProcess(['unit', 'failover'], options.unit0Env)
  standby.catch(() => undefined) // awaited below; a failure then is the run's
  await postUntilAccepted(call.ann, unit1Url, 'failover-after')
  const acceptedAt = Date.now()
  const ready = await standby
  return {
    readySeconds: (ready.readyAt - killedAt) / 1000,
    firstAcceptedSeconds: (acceptedAt - killedAt) / 1000,
    changelogRecords: await changelogRecords(options.admin, options.prefix),
    standby: ready,
  }
}
