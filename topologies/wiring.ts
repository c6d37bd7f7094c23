// What a deployment hands every topology module (topologies/registry.ts): topic names,
// codecs, the partition count, the users' homes and the settings, already read from
// the configuration by the composition root (ops/app/topologies.ts). Modules take what they
// need from it; none of them reads the configuration itself.

import type { MergeMetrics, ReceiverMetrics } from '../ops/metrics.js'
import type { EventCodec } from '../schemas/codec.js'
import type { ContractCodecs } from '../schemas/contract.js'
import type { ContractTopic } from '../schemas/topics.js'
import type { FanoutBatch, UserEvent } from '../schemas/types.generated.js'
import type { WindowSettings } from './merge/index.js'
import type { Admission, RemoteTargets } from './receiver/index.js'
import type { SyncSettings } from './sync/index.js'

/** How a deployment names its topics: all a module's `topics()` may use, so provisioning
 * (`imflow topics`) can name them without starting anything. */
export interface TopicNaming {
  /** A contract topic's name in this deployment. */
  topic(base: ContractTopic): string
  /** This deployment's internal topic `name` (`internalTopic` of the runtime). */
  internalTopic(name: string): string
}

export interface TopologyWiring extends TopicNaming {
  /** The runtime id: the app id behind this deployment's topic prefix. */
  readonly appId: string
  /** Another deployment's internal topic `name`, under its topic prefix and app id. */
  remoteInternalTopic(remote: RemoteDeployment, name: string): string
  /** Another deployment's contract topic, under its topic prefix. */
  remoteTopic(topicPrefix: string, base: ContractTopic): string
  readonly codecs: ContractCodecs
  /** The hand-off from conversation-keyed to user-keyed processing (an internal topic). */
  readonly fanoutCodec: EventCodec<FanoutBatch>
  /** Partitions of every contract topic (co-partitioned topics agree). */
  readonly partitions: number
  /** A user's record on im.users (home geo and unit); undefined: homed here. */
  userOf(userId: string): UserEvent | undefined
  readonly settings: {
    readonly unit: number
    readonly geo: string
    /** Other geos' deployments: geo -> their topic prefix and app id. */
    readonly remoteGeos: Readonly<Record<string, RemoteDeployment>>
    /** The app id without the prefix: other units run under it (their inbound's name). */
    readonly appId: string
    /** Other units' deployments on this cluster: unit -> their topic prefix. */
    readonly remoteUnits: Readonly<Record<string, string>>
    /** Hot senders whose own copy of their messages is not handed off (none when absent). */
    readonly systemAccounts?: readonly string[]
    readonly largeGroupThreshold: number
    readonly maxBodyBytes: number
    readonly sync: SyncSettings
    readonly mergeWindows: WindowSettings
  }
  /** Whether other geos' and units' topics exist now (forwarding parks records until they do). */
  readonly remoteTargets?: RemoteTargets
  /** Peak shaving: the receiver's admission hook (topologies/shaping). */
  readonly admission?: Admission
  /** Instruments of topologies that report more than every task does. */
  readonly metrics: { readonly merge?: MergeMetrics; readonly receiver?: ReceiverMetrics }
}

/** Another deployment on the cluster, as its topics are named. */
export interface RemoteDeployment {
  readonly prefix: string
  readonly appId: string
}

/** The hand-off topic's name: the receiver and inbound write it, inbox and sync read it. */
export const FANOUT = 'fanout'
/** The topic other geos' and units' receivers forward the share of users homed here to. */
export const INBOUND = 'inbound'
