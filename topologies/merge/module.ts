// Merge's modules: the index of senders (Accepted receipts re-keyed by conversation) and the
// merge of read receipts and reactions over windows (docs/merge.md).

import { userHomes } from '../receiver/index.js'
import { defineModule } from '../runtime/index.js'
import { FANOUT, type TopologyWiring } from '../wiring.js'
import { mergeTopology } from './merge.js'
import { messageIndexTopology } from './message-index.js'
import { MergeQueries } from './queries.js'

/** Accepted messages' senders, keyed by conversation: what merge reads to know whom to tell. */
const MERGE_MESSAGES = 'merge-messages'

export const messageIndexModule = defineModule({
  name: 'merge-index',
  paced: true,
  build: (w: TopologyWiring) =>
    messageIndexTopology({
      topics: { receipts: w.topic('im.receipts'), messages: w.internalTopic(MERGE_MESSAGES) },
      codec: w.codecs['im.receipts'],
      partitions: w.partitions,
    }),
})

export const mergeModule = defineModule({
  name: 'merge',
  // Not paced: its read ticks are what a sender sees, and pacing it changed nothing
  // measurable (docs/runtime.md, "Transaction pace").
  build: (w: TopologyWiring) =>
    mergeTopology({
      topics: {
        conversations: w.topic('im.conversations'),
        actions: w.topic('im.actions'),
        messages: w.internalTopic(MERGE_MESSAGES),
        fanout: w.internalTopic(FANOUT),
        rooms: w.topic('im.rooms'),
      },
      codecs: {
        conversationEvent: w.codecs['im.conversations'],
        action: w.codecs['im.actions'],
        receipt: w.codecs['im.receipts'],
        fanoutBatch: w.fanoutCodec,
        roomEvent: w.codecs['im.rooms'],
      },
      userPartitions: w.partitions,
      largeGroupThreshold: w.settings.largeGroupThreshold,
      windows: w.settings.mergeWindows,
      ...(w.metrics.merge ? { metrics: w.metrics.merge } : {}),
      homes: {
        users: userHomes(w),
        ...(w.remoteTargets ? { remoteTargets: w.remoteTargets } : {}),
      },
    }),
  queries: (running, w: TopologyWiring) =>
    new MergeQueries(running, w.settings.largeGroupThreshold),
})
