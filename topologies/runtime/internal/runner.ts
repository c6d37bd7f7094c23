// Runs a topology: one consumer group, one task per assigned input partition, opened (and
// restored) as soon as the partition is assigned (GROUP_JOIN), so an idle partition still
// serves queries; a batch that arrives first waits for the open. Tasks close when the
// partition is revoked or the runner stops. kafkajs has no revocation callback: the new
// assignment comes with GROUP_JOIN, and kafkajs finishes the in-flight batch before it rejoins.

import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Consumer, ConsumerRunConfig, Kafka } from 'kafkajs'
import { ImflowError } from '../../../ops/errors.js'
import { OUTAGE_TOLERANT_CONSUMER } from '../../../ops/kafka-client.js'
import { adaptFetchWait } from '../../../ops/kafkajs-fetch-wait.js'
import {
  type GroupGeneration,
  trackGroupGeneration,
} from '../../../ops/kafkajs-group-generation.js'
import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import { removeMemberOnCrash } from '../../../ops/stale-member.js'
import type { ChangeloggedStore } from '../../../state/index.js'
import { changelogTopic } from '../changelog.js'
import type { DeadLetterEncoder } from '../dead-letters.js'
import { partitionForKey } from '../partitioner.js'
import type { TopologyDefinition } from '../topology.js'
import { coPartitionedAssigner } from './assignor.js'
import { batchHandler } from './batch-handler.js'
import { FETCH_AHEAD_BYTES, FetchAhead } from './fetch-ahead.js'
import { GroupMember } from './group-member.js'
import { OncePerProducer } from './misplaced.js'
import { provisionChangelogs } from './provision.js'
import { type PeerStoreClient, remoteStore } from './remote-store.js'
import { Restorer } from './restorer.js'
import type { SliceLimits } from './slice-bounds.js'
import { Task } from './task.js'
import { TaskSet } from './task-set.js'
import { ThreadTransactions, type ThreadTransactionsOptions } from './thread-transaction.js'
import { threadTransactionalId } from './thread-transactional-id.js'

/** About one transaction's worth of small records (a slice), per partition and fetch. */
const FETCH_BYTES_PER_PARTITION = 256 * 1024
/** How long a fetch waits for data while no partition is paused (20 fetches/s per idle group). */
const FETCH_WAIT_MS = 50
/**
 * The fetch wait while a partition is paused for its task (fetch-ahead.ts): it is fetched
 * again within this long of its resume, not after up to FETCH_WAIT_MS of long poll on the
 * others. Only then: with every partition idle a short wait would only mean more fetches.
 */
const PAUSED_FETCH_WAIT_MS = 5

export interface RunnerOptions {
  kafka: Kafka
  appId: string
  stateDir: string
  log: Logger
  deadLetters?: DeadLetterEncoder
  metrics?: TaskMetrics
  /** Replicas of the internal topics created (changelogs, repartition); default: the broker's. */
  replicationFactor?: number
  /**
   * Group session timeout (default 10 s, the Java consumer's before Kafka 3.0): a crashed
   * instance's partitions move after this long, and so long does the group wait for a
   * member kafkajs replaced (its consumer restarted after a broker outage) before it assigns.
   */
  sessionTimeoutMs?: number
  /**
   * Reads of tasks other instances own go there: this instance's API base URL (told to the
   * group) and the client that reads another instance's stores. Without it, such reads
   * answer IMF_ERR_NOT_READY.
   */
  peers?: { advertisedUrl: string; client: PeerStoreClient }
  /** How much one slice takes on (records, bytes, processing time); see slice-bounds.ts. */
  sliceLimits?: SliceLimits
  /**
   * A transaction spans slices for this long (IMFLOW_COMMIT_INTERVAL_MS), the consumer fetching
   * ahead meanwhile (fetch-ahead.ts); 0: a transaction per slice. Default: the topology's own
   * (`TopologyDefinition.commitIntervalMs`), else DEFAULT_COMMIT_INTERVAL_MS.
   */
  commitIntervalMs?: number
  /** Each store's record cache in bytes (IMFLOW_CACHE_MAX_BYTES); default: until the commit. */
  cacheMaxBytes?: number
  /** How often a running task checkpoints its stores; default CHECKPOINT_INTERVAL_MS (task.ts). */
  checkpointIntervalMs?: number
  /**
   * What one transaction covers (IMFLOW_TRANSACTION_SCOPE): `thread` (default), one producer
   * for every task of this runner, fenced by the group generation (KIP-447;
   * thread-transaction.ts); `task`, a producer per task (input partition).
   */
  transactionScope?: TransactionScope
  /**
   * The runner begins a transaction at most this often (thread scope): records that come
   * meanwhile wait for the next, larger one. For topologies no push waits on; default 0.
   */
  transactionPaceMs?: number
  /**
   * An assigned task still not open after this long (restoring, or failing to open) makes the
   * topology unhealthy (/readyz); default 30 s.
   */
  openGraceMs?: number
  /**
   * How long a fetch waits for data (default FETCH_WAIT_MS): a partition resumed after its
   * task's transaction waits up to this long for the next fetch round. For measurements
   * (the shaping bench's A/B); not a setting of the app.
   */
  fetchWaitMs?: number
}

export type TransactionScope = 'task' | 'thread'

export interface RunningTopology {
  readonly name: string
  /** Finishes the in-flight batch, commits, closes the tasks (with checkpoints) and leaves the group. */
  stop(): Promise<void>
  /** Resolves with an error if the topology stopped by itself. */
  readonly failed: Promise<Error>
  /**
   * Whether the topology consumes: false while its consumer joins the group, after a crash
   * until the runner's restart has joined again, and for good after a failure. For /readyz.
   */
  healthy(): { ok: boolean; detail?: string }
  /**
   * A store's committed state in the task of this partition, when that task is open (and
   * restored) in this instance; undefined otherwise (another instance owns it, or it is
   * still restoring).
   */
  committedStore(partition: number, store: string): ChangeloggedStore['committed'] | undefined
  /**
   * The committed store of the task that owns `key`: the local one when the task is open
   * here, else a view that reads through the owning instance. IMF_ERR_NOT_READY (on the
   * view's reads) while no other instance is known to own it: rebalancing, or restoring here.
   */
  committedStoreForKey(key: string, store: string): ChangeloggedStore['committed']
  /** The partition count of the sources, to find a key's task. */
  readonly partitions: number
}

export function changelogTopics(appId: string, topology: TopologyDefinition): string[] {
  return (topology.stores ?? []).map((store) => changelogTopic(appId, topology.name, store))
}

/** The group consumer of a topology: our assignor only, bounded fetches, read_committed. */
function groupConsumer(
  kafka: Kafka,
  groupId: string,
  options: RunnerOptions,
  tasks: () => ReadonlySet<number>,
): Consumer {
  const sessionTimeout = options.sessionTimeoutMs ?? 10_000
  return kafka.consumer({
    groupId,
    // Rides out a broker outage in place (see OUTAGE_TOLERANT_CONSUMER).
    retry: OUTAGE_TOLERANT_CONSUMER.retry,
    sessionTimeout,
    rebalanceTimeout: sessionTimeout,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
    readUncommitted: false,
    allowAutoTopicCreation: false,
    // A partition paused while its task works (batch-handler.ts) is fetched again with the
    // next fetch: one that waits for data on the others must not keep it waiting long.
    maxWaitTimeInMs: options.fetchWaitMs ?? FETCH_WAIT_MS,
    maxBytesPerPartition: FETCH_BYTES_PER_PARTITION,
    // Ours only, no round-robin fallback: a broker may pick any protocol all members
    // support, and round-robin splits tasks (see assignor.ts).
    partitionAssigners: [
      coPartitionedAssigner({
        advertisedUrl: options.peers?.advertisedUrl ?? '',
        ownedTasks: tasks,
      }),
    ],
  })
}

/**
 * Stores new beside ones that ran: each task builds them from the log before it opens, by
 * their declared fold (backfill.ts) or else by a shadow run of the task (store-rebuild.ts).
 */
function reportLateStores(topology: TopologyDefinition, late: readonly string[], log: Logger) {
  if (late.length === 0) return
  log.info('new stores in a topology whose group has positions: built from the log first', {
    topology: topology.name,
    folded: late.filter((store) => topology.backfill?.[store]),
    shadowRun: late.filter((store) => !topology.backfill?.[store]),
  })
}

interface ThreadScope {
  transactions: ThreadTransactions
  /** Follows the group membership of the runner's consumer (a new one after a crash too). */
  track(consumer: Consumer): void
  stop(): Promise<void>
}

/** One transaction per thread, when the options ask for it: the runner's one producer. */
async function threadScope(
  topology: TopologyDefinition,
  options: ResolvedOptions,
  group: Pick<ThreadTransactionsOptions, 'groupId' | 'isAssigned'>,
): Promise<ThreadScope | undefined> {
  if (options.transactionScope === 'task') return undefined
  const { id, release } = await threadTransactionalId(
    options.stateDir,
    options.appId,
    topology.name,
  )
  let generation: GroupGeneration | undefined
  try {
    const transactions = await ThreadTransactions.create({
      ...group,
      membership: () => generation?.current(),
      kafka: options.kafka,
      transactionalId: id,
      log: options.log,
      commitIntervalMs: options.commitIntervalMs,
      paceMs: options.transactionPaceMs,
    })
    return {
      transactions,
      track(consumer) {
        generation?.stop()
        generation = trackGroupGeneration(consumer)
      },
      stop: async () => {
        generation?.stop()
        await transactions.disconnect().catch(() => {})
        release()
      },
    }
  } catch (err) {
    release()
    throw err
  }
}

/** The restore consumer, in a group of its own. */
async function startRestorer(
  kafka: Kafka,
  groupId: string,
  changelogs: string[],
  log: Logger,
): Promise<Restorer> {
  const restorer = new Restorer(
    kafka,
    changelogs,
    // Unique even for runners started in one process in the same millisecond.
    `${groupId}-restore-${hostname()}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
    log,
  )
  await restorer.start()
  return restorer
}

/** The consumer's health, else the tasks' (one assigned but not open past its grace). */
function topologyHealth(member: GroupMember, tasks: TaskSet): { ok: boolean; detail?: string } {
  const health = member.healthy()
  const problem = health.ok ? tasks.problem() : undefined
  return problem ? { ok: false, detail: problem } : health
}

/** How the group's consumer runs: every batch handed to its task (batch-handler.ts). */
function consumerRun(
  topology: TopologyDefinition,
  partitions: number,
  options: ResolvedOptions,
  tasks: TaskSet,
  ahead: FetchAhead,
  member: () => GroupMember,
): ConsumerRunConfig {
  return {
    autoCommit: false,
    eachBatchAutoResolve: false,
    // Tasks are independent (own producer or a share of the thread's, own stores): while one
    // waits on its commit, another processes. Each partition is still processed in order.
    // Every batch of a fetch at once: a task's topics then share a transaction
    // (Task.processBatch), and kafkajs fetches again only when all of them are handed over.
    partitionsConsumedConcurrently: Math.max(4, partitions * topology.sources.length),
    eachBatch: batchHandler({
      topology: topology.name,
      tasks,
      log: options.log,
      metrics: options.metrics,
      ahead,
      seek: (topic, partition, offset) => member().seek(topic, partition, offset),
      onFailure: (err) => member().taskFailed(err),
    }),
  }
}

/** The runner's options with what startTopology settled once. */
type ResolvedOptions = RunnerOptions & { commitIntervalMs: number }

/** Kafka Streams' commit interval under exactly-once: for a topology that sets none. */
export const DEFAULT_COMMIT_INTERVAL_MS = 100

export async function startTopology(
  topology: TopologyDefinition,
  given: RunnerOptions,
): Promise<RunningTopology> {
  const commitIntervalMs =
    given.commitIntervalMs ?? topology.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS
  const options: ResolvedOptions = { ...given, commitIntervalMs }
  const { kafka, appId, log } = options
  const groupId = `${appId}-${topology.name}`
  const { partitions, lateStores } = await provisionChangelogs(
    kafka,
    appId,
    topology,
    options.replicationFactor,
  )
  reportLateStores(topology, lateStores, log)
  const thread = await threadScope(topology, options, {
    groupId,
    isAssigned: (partition) => tasks.isAssigned(partition),
  })
  const restorer = await startRestorer(kafka, groupId, changelogTopics(appId, topology), log)

  // Fetch ahead where a transaction spans time and takes what was fetched meanwhile.
  const ahead = new FetchAhead(commitIntervalMs > 0 ? FETCH_AHEAD_BYTES : 0)
  const misplacedNotices = new OncePerProducer()
  const tasks = new TaskSet(
    topology.name,
    (partition, signal) =>
      Task.open({
        ...options,
        groupId,
        topology,
        partition,
        restorer,
        partitions,
        misplacedNotices,
        signal,
        threadTransactions: thread?.transactions,
        // As after a failed batch: opened again, restored from what its changelogs committed.
        onCorrupted: (err) => void tasks.reopen(partition).then(() => member.taskFailed(err)),
      }),
    log,
    options.metrics,
    options.openGraceMs,
  )
  const member = new GroupMember(
    topology,
    () => {
      const consumer = groupConsumer(kafka, groupId, options, () => tasks.assignment)
      removeMemberOnCrash(kafka, consumer, groupId, log)
      adaptFetchWait(consumer, () =>
        ahead.wantsShortFetchWait() ? PAUSED_FETCH_WAIT_MS : undefined,
      )
      // Before GroupMember's own GROUP_JOIN listener: the generation is the new one by the time
      // the tasks hear of the new assignment.
      thread?.track(consumer)
      return consumer
    },
    consumerRun(topology, partitions, options, tasks, ahead, () => member),
    tasks,
    log,
    options.sessionTimeoutMs,
  )
  await member.start()

  return {
    name: topology.name,
    failed: member.failed,
    partitions,
    healthy: () => topologyHealth(member, tasks),
    committedStore: (partition, store) => tasks.openTask(partition)?.committedStore(store),
    committedStoreForKey(key, store) {
      const partition = partitionForKey(key, partitions)
      const committed = tasks.openTask(partition)?.committedStore(store)
      if (committed) return committed
      if (!options.peers || !(topology.stores ?? []).includes(store)) {
        throw new ImflowError(
          'IMF_ERR_NOT_READY',
          `${topology.name}: ${key} lives in partition ${partition}, which this instance does not serve right now`,
        )
      }
      return remoteStore({
        address: { topology: topology.name, partition, store },
        client: options.peers.client,
        owner: () => member.owners.owner(partition),
        stale: () => member.owners.forget(),
      })
    },
    async stop() {
      if (thread) {
        // One transaction per thread commits with the consumer's membership: the tasks finish
        // their work and close while it is still a member (a commit after it left the group
        // would be refused, and the task closed without a checkpoint), then it leaves.
        await tasks.closeAll()
        await member.stop()
      } else {
        await member.stop()
        await tasks.closeAll()
      }
      await thread?.stop()
      await restorer.stop()
    },
  }
}
