// A workload as contract records: each group's creation (im.conversations) and each message
// (im.ingest), encoded with the registry's codecs, keyed by conversation.

import type { ContractCodecs } from '../schemas/contract.js'
import type { Workload } from './workload.js'

export function workloadRecords(codecs: ContractCodecs, workload: Workload) {
  const now = Date.now()
  const groups = workload.groups.map((g) => ({
    key: g.id,
    value: codecs['im.conversations'].encode({
      conversationId: g.id,
      actorId: null,
      at: now,
      change: {
        kind: 'ConversationCreated',
        conversationType: 'GROUP',
        members: g.members,
        admins: [],
        unit: '',
      },
    }),
  }))
  const records = workload.messages.map((m, i) => ({
    key: m.conversationId,
    value: codecs['im.ingest'].encode({
      conversationId: m.conversationId,
      clientMsgId: `c-${i}`,
      senderId: m.senderId,
      type: 'TEXT',
      body: 'Please review the attached figures before the 3pm call.',
      priority: 'HIGH',
      visibility: 'NORMAL',
      targets: [],
      sentAt: now,
    }),
  }))
  return { groups, records }
}
