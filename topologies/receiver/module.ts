// The receiver's and inbound's modules: how a deployment's wiring becomes their topologies.

import { defineModule } from '../runtime/index.js'
import { FANOUT, INBOUND, type TopicNaming, type TopologyWiring } from '../wiring.js'
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
      geos: {
        local: w.settings.geo,
        geoOf: (userId) => w.userOf(userId)?.geo,
        // Each geo's deployment reads its inbound topic under its own prefix.
        inbound: Object.fromEntries(
          Object.entries(w.settings.remoteGeos).map(([geo, remote]) => [
            geo,
            w.remoteInternalTopic(remote, INBOUND),
          ]),
        ),
        // Acting from home: what its users write to conversations homed here, and back.
        homes: Object.fromEntries(
          Object.entries(w.settings.remoteGeos).map(([geo, remote]) => [
            geo,
            {
              ingest: w.remoteTopic(remote.prefix, 'im.ingest'),
              actions: w.remoteTopic(remote.prefix, 'im.actions'),
              receipts: w.remoteTopic(remote.prefix, 'im.receipts'),
              rooms: w.remoteTopic(remote.prefix, 'im.rooms'),
            },
          ]),
        ),
      },
      // Each unit's deployment reads the contract topics under its own prefix.
      units: Object.fromEntries(
        Object.entries(w.settings.remoteUnits).map(([unit, prefix]) => [
          unit,
          {
            ingest: w.remoteTopic(prefix, 'im.ingest'),
            conversations: w.remoteTopic(prefix, 'im.conversations'),
            actions: w.remoteTopic(prefix, 'im.actions'),
            receipts: w.remoteTopic(prefix, 'im.receipts'),
            // Users homed there: their share of what is handed off, and large groups' events.
            inbound: w.remoteInternalTopic({ prefix, appId: w.settings.appId }, INBOUND),
            rooms: w.remoteTopic(prefix, 'im.rooms'),
          },
        ]),
      ),
      unitOf: (userId) => w.userOf(userId)?.unit,
      users: { topic: w.topic('im.users'), codec: w.codecs['im.users'] },
      unit: w.settings.unit,
      systemAccounts: new Set(w.settings.systemAccounts ?? []),
      ...(w.remoteTargets ? { remoteTargets: w.remoteTargets } : {}),
      limits: { maxBodyBytes: w.settings.maxBodyBytes, maxClientMsgIdLength: 128 },
      ...(w.admission ? { admission: w.admission } : {}),
    }),
  queries: (running) => new ReceiverQueries(running),
})
