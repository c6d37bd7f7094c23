// Which partition owns a contract record, as the API and the gateway key them (murmur2 of the
// key): its conversation on im.ingest, im.conversations and im.actions; its user on
// im.device-events. Read from the value, so a producer's key (or none) does not matter: a
// record elsewhere is re-routed by the topology that says `reroute` (runtime/topology.ts).

import type { SourceDefinition } from '../runtime/index.js'

type Owner = NonNullable<SourceDefinition['owner']>

export const byConversation = (misplaced: Owner['misplaced']): Owner => ({
  key: (value) => (value as { conversationId: string }).conversationId,
  misplaced,
})

export const byUser = (misplaced: Owner['misplaced']): Owner => ({
  key: (value) => (value as { userId: string }).userId,
  misplaced,
})
