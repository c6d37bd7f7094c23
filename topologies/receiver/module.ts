// The receiver's and inbound's modules: how a deployment's wiring becomes their topologies.

import { defineModule } from '../runtime/index.js'
import { FANOUT, INBOUND, type TopicNaming, type TopologyWiring } from '../wiring.js'
import { geoSplit, unitTopics } from './home-wiring.js'
import { inboundTopology } from './inbound.js'
import { ReceiverQueries } from './queries.js'
import { receiverTopology } from './receiver.js'

export const inboundModule = defineModule({
  name: 'inbound',
  // Other geos' receivers write it: it exists before anything runs, even here.
  topics: (names: TopicNaming) => [names.internalTopic(INBOUND)],
  build: (w: TopologyWiring) =>
    inboundTopology({
      inbound: w.internalTopic(INBOUND),
      fanout: w.internalTopic(FANOUT),
      userPartitions: w.partitions,
      codec: w.fanoutCodec,
    }),
})

export const receiverModule = defineModule({
  name: 'receiver',
  build: (w: TopologyWiring) =>
    receiverTopology({
      topics: {
        ingest: w.topic('im.ingest'),
        conversations: w.topic('im.conversations'),
        actions: w.topic('im.actions'),
        receipts: w.topic('im.receipts'),
        fanout: w.internalTopic(FANOUT),
        rooms: w.topic('im.rooms'),
      },
      codecs: {
        sendMessage: w.codecs['im.ingest'],
        conversationEvent: w.codecs['im.conversations'],
        receipt: w.codecs['im.receipts'],
        action: w.codecs['im.actions'],
        fanoutBatch: w.fanoutCodec,
        roomEvent: w.codecs['im.rooms'],
      },
      userPartitions: w.partitions,
      largeGroupThreshold: w.settings.largeGroupThreshold,
      geos: geoSplit(w),
      units: unitTopics(w),
      unitOf: (userId) => w.userOf(userId)?.unit,
      users: { topic: w.topic('im.users'), codec: w.codecs['im.users'] },
      unit: w.settings.unit,
      systemAccounts: new Set(w.settings.systemAccounts ?? []),
      ...(w.remoteTargets ? { remoteTargets: w.remoteTargets } : {}),
      limits: { maxBodyBytes: w.settings.maxBodyBytes, maxClientMsgIdLength: 128 },
      ...(w.admission ? { admission: w.admission } : {}),
      ...(w.metrics.receiver ? { metrics: w.metrics.receiver } : {}),
    }),
  queries: (running) => new ReceiverQueries(running),
})
