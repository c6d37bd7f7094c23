// Runs a topology: one consumer group, one task per assigned input partition, opened (and
// restored) as soon as the partition is assigned (GROUP_JOIN), so an idle partition still
// serves queries; a batch that arrives first waits for the open. Tasks close when the
// partition is revoked or the runner stops. kafkajs has no revocation callback: the new
// assignment comes with GROUP_JOIN, and kafkajs finishes the in-flight batch before it rejoins.

import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Consumer, ConsumerRunConfig, Kafka } from 'kafkajs'
import { ImflowError } from '../../../ops/errors.js'
import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import type { ChangeloggedStore } from '../../../state/index.js'
import { changelogTopic } from '../changelog.js'
import type { DeadLetterEncoder } from '../dead-letters.js'
import { partitionForKey } from '../partitioner.js'
import type { TopologyDefinition } from '../topology.js'
import { coPartitionedAssigner } from './assignor.js'
import { OncePerProducer } from './misplaced.js'
import { provisionChangelogs } from './provision.js'
import { type PeerStoreClient, remoteStore } from './remote-store.js'
import { Restorer } from './restorer.js'
import type { SliceLimits } from './slice-bounds.js'
import { Task, TaskCorruptedError, TaskFencedError } from './task.js'
import { TaskOwners } from './task-owners.js'
import { UnopenedTasks } from './unopened-tasks.js'

/** About one transaction's worth of small records (a slice), per partition and fetch. */
const FETCH_BYTES_PER_PARTITION = 256 * 1024

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
  /** A transaction spans slices for this long (IMFLOW_COMMIT_INTERVAL_MS); default: per slice. */
  commitIntervalMs?: number
  /** Each store's record cache in bytes (IMFLOW_CACHE_MAX_BYTES); default: until the commit. */
  cacheMaxBytes?: number
  /**
   * An assigned task still not open after this long (restoring, or failing to open) makes the
   * topology unhealthy (/readyz); default 30 s.
   */
  openGraceMs?: number
}

/**
 * Backoff of the group consumer's own retries: kafkajs' default grows to 30 s, so after a
 * broker restart the consumer could sleep that long; capped at 1 s it is back within 10 s.
 * And it must not give up during an outage: a consumer kafkajs restarts is a new group
 * member, and the group then waits for the old one's session to expire (30 s) before it
 * assigns anything. 300 retries: five minutes of patience.
 */
const CONSUMER_RETRY = { initialRetryTime: 100, maxRetryTime: 1_000, retries: 300 }
/** Heartbeat answers meaning the group went on without this member's current view of it. */
const GROUP_MOVED_ON =
  /REBALANCE_IN_PROGRESS|rebalanc|UNKNOWN_MEMBER_ID|not aware of this member|ILLEGAL_GENERATION|generation/i
/** A consumer that crashed for good (kafkajs gives up on non-retriable errors) is started anew. */
const RESTART_DELAY_MS = { first: 200, max: 2_000 }

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

export async function startTopology(
  topology: TopologyDefinition,
  options: RunnerOptions,
): Promise<RunningTopology> {
  const { kafka, appId, log } = options
  const groupId = `${appId}-${topology.name}`
  const partitions = await provisionChangelogs(kafka, appId, topology, options.replicationFactor)
  const misplacedNotices = new OncePerProducer()
  const unopened = new UnopenedTasks(options.openGraceMs ?? 30_000)
  const restorer = new Restorer(
    kafka,
    changelogTopics(appId, topology),
    // Unique even for runners started in one process in the same millisecond.
    `${groupId}-restore-${hostname()}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
  )
  await restorer.start()

  const sessionTimeout = options.sessionTimeoutMs ?? 10_000
  const newConsumer = (): Consumer =>
    kafka.consumer({
      groupId,
      retry: CONSUMER_RETRY,
      sessionTimeout,
      rebalanceTimeout: sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      // kafkajs fetches again only once every partition's batch of the last fetch is processed:
      // a small fetch per partition bounds how long one partition's backlog holds up the others.
      maxBytesPerPartition: FETCH_BYTES_PER_PARTITION,
      // Ours only, no round-robin fallback: a broker may pick any protocol all members
      // support, and round-robin splits tasks (see assignor.ts).
      partitionAssigners: [
        coPartitionedAssigner({
          advertisedUrl: options.peers?.advertisedUrl ?? '',
          ownedTasks: () => assigned,
        }),
      ],
    })
  let consumer = newConsumer()
  let stopping = false
  let health: { ok: boolean; detail?: string } = { ok: false, detail: 'joining the group' }
  const owners = new TaskOwners(
    () => consumer.describeGroup(),
    (err) => log.warn('could not describe the group', { error: String(err) }),
  )
  const tasks = new Map<number, Promise<Task>>()
  /** Tasks opened and restored: the ones queries may read. */
  const open = new Map<number, Task>()
  // A revoked task may still be closing when its partition comes back: wait for it (RocksDB lock).
  const closing = new Map<number, Promise<void>>()
  let assigned = new Set<number>()
  let reportFailure: (err: Error) => void = () => {}
  const failed = new Promise<Error>((resolve) => {
    reportFailure = resolve
  })

  const closeTask = (partition: number, clean: boolean): Promise<void> => {
    const opening = tasks.get(partition)
    tasks.delete(partition)
    const done = (async () => {
      const task = await opening?.catch(() => undefined)
      if (!task) return
      if (open.get(partition) === task) open.delete(partition)
      unopened.closed(partition, !stopping && assigned.has(partition))
      await task.close(clean)
      options.metrics?.openTasks.dec({ topology: topology.name })
    })()
    closing.set(partition, done)
    void done.finally(() => {
      if (closing.get(partition) === done) closing.delete(partition)
    })
    return done
  }

  /** The partition's task, opened (and restored) once and shared by all its source topics. */
  const openTask = (partition: number): Promise<Task> => {
    const known = tasks.get(partition)
    if (known) return known
    // Registered before the first await: a batch of another source topic for the same
    // partition, running concurrently, must find this task, not open a second one
    // (RocksDB's lock refuses it).
    const previous = closing.get(partition)
    const opening = (async () => {
      await previous
      return Task.open({
        ...options,
        groupId,
        topology,
        partition,
        restorer,
        partitions,
        misplacedNotices,
      })
    })()
    tasks.set(partition, opening)
    opening.then(
      (task) => {
        open.set(partition, task)
        unopened.opened(partition)
        options.metrics?.openTasks.inc({ topology: topology.name })
      },
      () => {
        if (tasks.get(partition) === opening) tasks.delete(partition)
      },
    )
    return opening
  }

  const onJoin = (payload: { memberId: string; memberAssignment: Record<string, number[]> }) => {
    health = { ok: true }
    const now = new Set(Object.values(payload.memberAssignment).flat())
    for (const partition of tasks.keys()) {
      if (!now.has(partition)) void closeTask(partition, true)
    }
    assigned = now
    // Opened now, not on their first record: a partition that gets no record for a while
    // still serves its state to queries. kafkajs heartbeats on its own meanwhile.
    unopened.assigned(now, (p) => open.has(p))
    for (const partition of now) keepOpening(partition, RESTART_DELAY_MS.first)
    owners.joined(payload.memberId)
    log.info('assignment', { topology: topology.name, partitions: [...now].sort((a, b) => a - b) })
  }

  /** Opens an assigned task, and again with backoff while it fails (a quiet partition gets no batch to retry it). */
  const keepOpening = (partition: number, delay: number): void => {
    openTask(partition).catch((err) => {
      log.warn('task did not open; trying again', {
        topology: topology.name,
        partition,
        error: String(err),
        inMs: delay,
      })
      setTimeout(() => {
        if (!stopping && assigned.has(partition) && !tasks.has(partition))
          keepOpening(partition, Math.min(RESTART_DELAY_MS.max * 2, delay * 2))
      }, delay).unref()
    })
  }

  /** A new consumer after a crash kafkajs does not recover from; again and again until stop(). */
  let restartDelay = RESTART_DELAY_MS.first
  const restart = (error: Error) => {
    if (stopping) return
    // 'fail': the topology asked to stop rather than go on past a record it cannot process.
    if (topology.onProcessingError === 'fail') {
      health = { ok: false, detail: `failed: ${error.message}` }
      reportFailure(error)
      return
    }
    log.warn('the consumer crashed; starting a new one', {
      topology: topology.name,
      error: String(error),
      inMs: restartDelay,
    })
    setTimeout(async () => {
      if (stopping) return
      await consumer.disconnect().catch(() => {})
      consumer = newConsumer()
      try {
        await runConsumer(consumer)
        restartDelay = RESTART_DELAY_MS.first
      } catch (err) {
        restartDelay = Math.min(RESTART_DELAY_MS.max, restartDelay * 2)
        restart(err as Error)
      }
    }, restartDelay)
  }

  const runConsumer = async (c: Consumer): Promise<void> => {
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      if (c === consumer) onJoin(payload)
    })
    c.on(c.events.CRASH, ({ payload }) => {
      if (c !== consumer) return
      health = { ok: false, detail: `consumer crashed: ${String(payload.error)}` }
      // restart: kafkajs starts it again itself (a retriable error).
      if (!payload.restart) restart(payload.error)
    })
    await c.connect()
    await c.subscribe({ topics: topology.sources.map((s) => s.topic), fromBeginning: true })
    await c.run(runConfig)
  }

  const runConfig: ConsumerRunConfig = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    // Tasks are independent (own producer, own stores): while one waits on its commit,
    // another processes. Each partition is still processed in order.
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      const { partition } = batch
      if (!assigned.has(partition)) return
      options.metrics?.lag.set(
        { topology: topology.name, partition: String(partition) },
        Number(batch.offsetLag()),
      )
      // Usually opened (and restored) since the assignment; the group keeps hearing from us
      // while a long restore finishes.
      const beat = setInterval(() => void heartbeat().catch(() => {}), 1_000)
      let task: Task
      try {
        task = await openTask(partition)
      } finally {
        clearInterval(beat)
      }
      // A rebalance under way: commit what is done and hand the partition over quickly,
      // instead of retrying into the next generation (no storm of rejoins).
      let rebalancing = false
      try {
        await task.processBatch(
          batch.topic,
          batch.messages,
          {
            heartbeat: async () => {
              try {
                await heartbeat()
              } catch (err) {
                // A heartbeat that fails otherwise (a coordinator still loading after a broker
                // restart) must not abort the transaction: kafkajs' fetch loop deals with the
                // group, and a commit that cannot go through fails by itself.
                // One that says the group moved on (a rebalance, this member or its generation
                // gone): commit what is done and hand the partition over.
                if (GROUP_MOVED_ON.test(String((err as Error)?.message ?? err))) rebalancing = true
              }
            },
            shouldContinue: () => isRunning() && !isStale() && !rebalancing,
            committed: resolveOffset,
          },
          batch.lastOffset(),
        )
      } catch (err) {
        // Fenced: another instance owns the task now. Anything else: close the task without a
        // checkpoint, so it restores from its changelog when it opens again.
        await closeTask(partition, false)
        if (err instanceof TaskFencedError) log.warn(err.message)
        // The consumer's position may be behind what committed: only a new consumer, which
        // reads the committed offsets, may go on (kafkajs retries a retriable error in place).
        if (err instanceof TaskCorruptedError) throw Object.assign(err, { retriable: false })
        throw err
      }
    },
  }
  await runConsumer(consumer)

  return {
    name: topology.name,
    failed,
    partitions,
    healthy: () => {
      const problem = health.ok ? unopened.problem() : undefined
      return problem ? { ok: false, detail: problem } : health
    },
    committedStore: (partition, store) => open.get(partition)?.committedStore(store),
    committedStoreForKey(key, store) {
      const partition = partitionForKey(key, partitions)
      const committed = open.get(partition)?.committedStore(store)
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
        owner: () => owners.owner(partition),
        stale: () => owners.forget(),
      })
    },
    async stop() {
      stopping = true
      health = { ok: false, detail: 'stopped' }
      await consumer.disconnect()
      await Promise.all([...tasks.keys()].map((p) => closeTask(p, true)))
      await restorer.stop()
    },
  }
}
