// The catalogue of what imflow reports on /metrics (Prometheus). Modules take their
// instruments from here, so this file is the one place to read what the system measures.

import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client'

/** A registry's metrics as prom-client's JSON: what another process hands over to be merged. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

export interface Metrics {
  readonly registry: Registry
  /**
   * /metrics: this process's registry, merged (summed as prom-client's cluster mode does)
   * with what the added sources give — the stream threads' other processes.
   */
  render(): Promise<string>
  addSource(source: () => Promise<MetricsJson[]>): void
  readonly httpRequests: Counter<'route' | 'method' | 'status'>
  readonly httpDuration: Histogram<'route' | 'method'>
  readonly dependencyUp: Gauge<'dependency'>
  readonly task: TaskMetrics
  readonly merge: MergeMetrics
  readonly receiver: ReceiverMetrics
}

/** What the receiver reports beyond every task's instruments. */
export interface ReceiverMetrics {
  /** Conversation moves that completed without their barrier (the old home did not send it back in time). */
  readonly moveBarrierTimeouts: Counter<never>
}

/** What the topology runtime reports, per topology and task (input partition). */
export interface TaskMetrics {
  readonly recordsIn: Counter<'topology' | 'partition'>
  readonly recordsOut: Counter<'topology' | 'partition'>
  readonly deadLetters: Counter<'topology'>
  /** Records a producer put on a partition that does not own their key, re-routed to it. */
  readonly rerouted: Counter<'topology' | 'topic'>
  readonly processSeconds: Histogram<'topology'>
  readonly commitSeconds: Histogram<'topology'>
  /** The commit's parts: the last outputs, the offsets, the commit request, the stores' writes. */
  readonly commitPhaseSeconds: Histogram<'topology' | 'phase'>
  readonly restoredRecords: Counter<'topology' | 'store'>
  readonly restoreSeconds: Histogram<'topology'>
  /** Tasks that opened past the group's committed offset: it answered an older commit of theirs. */
  readonly staleGroupOffsets: Counter<'topology'>
  /** Source records folded into stores built from the log (docs/replay.md, Backfill). */
  readonly backfilledRecords: Counter<'topology' | 'store'>
  readonly lag: Gauge<'topology' | 'partition'>
  /** Fetched and handed to the partition's task, not yet through it (fetch-ahead.ts). */
  readonly fetchedAhead: Gauge<'topology' | 'partition'>
  readonly openTasks: Gauge<'topology'>
  /** Store writes by store (the storage model's kinds: conversation-messages, inbox, ...). */
  readonly storeWrites: Counter<'topology' | 'store'>
}

const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** Building stores when a task opens: restoring from changelogs, backfilling from the log. */
function storeBuildMetrics(registers: Registry[]) {
  return {
    restoredRecords: new Counter({
      name: 'imflow_task_restored_records_total',
      help: 'Changelog records applied to stores while restoring, per topology and store.',
      labelNames: ['topology', 'store'],
      registers,
    }),
    restoreSeconds: new Histogram({
      name: 'imflow_task_restore_seconds',
      help: 'Time to restore a task’s stores when it opens.',
      labelNames: ['topology'],
      buckets: [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    }),
    backfilledRecords: new Counter({
      name: 'imflow_task_backfilled_records_total',
      help: 'Source records folded into stores built from the log, committed, per topology and store.',
      labelNames: ['topology', 'store'],
      registers,
    }),
  }
}

function taskMetrics(registry: Registry): TaskMetrics {
  const registers = [registry]
  return {
    ...storeBuildMetrics(registers),
    recordsIn: new Counter({
      name: 'imflow_task_records_in_total',
      help: 'Input records processed and committed, per topology and partition.',
      labelNames: ['topology', 'partition'],
      registers,
    }),
    recordsOut: new Counter({
      name: 'imflow_task_records_out_total',
      help: 'Records committed to sinks, changelogs and dead letters, per topology and partition.',
      labelNames: ['topology', 'partition'],
      registers,
    }),
    deadLetters: new Counter({
      name: 'imflow_task_dead_letters_total',
      help: 'Records sent to the dead-letter topic, per topology.',
      labelNames: ['topology'],
      registers,
    }),
    rerouted: new Counter({
      name: 'imflow_task_rerouted_total',
      help: 'Input records on a partition that does not own their key (a producer with another partitioner than murmur2), re-routed to their owner partition: one extra hop each.',
      labelNames: ['topology', 'topic'],
      registers,
    }),
    processSeconds: new Histogram({
      name: 'imflow_task_process_seconds',
      help: 'Time to run one transaction’s records through the processor.',
      labelNames: ['topology'],
      buckets: latencyBuckets,
      registers,
    }),
    commitSeconds: new Histogram({
      name: 'imflow_task_commit_seconds',
      help: 'Time to write and commit one transaction (outputs, changelogs, offsets).',
      labelNames: ['topology'],
      buckets: latencyBuckets,
      registers,
    }),
    commitPhaseSeconds: new Histogram({
      name: 'imflow_task_commit_phase_seconds',
      help: 'Time in each part of a commit: send (last outputs), offsets, commit (EndTxn), stores (local writes).',
      labelNames: ['topology', 'phase'],
      buckets: latencyBuckets,
      registers,
    }),
    staleGroupOffsets: new Counter({
      name: 'imflow_task_stale_group_offsets_total',
      help: 'Source partitions a task opened on past the group’s committed offset, which was an older commit of the task’s own (docs/reliability.md).',
      labelNames: ['topology'],
      registers,
    }),
    lag: new Gauge({
      name: 'imflow_task_lag_records',
      help: 'Records behind the end of the input partition, as of the last fetched batch.',
      labelNames: ['topology', 'partition'],
      registers,
    }),
    fetchedAhead: new Gauge({
      name: 'imflow_task_fetched_ahead_bytes',
      help: "Bytes fetched and handed to the partition's task, not yet through it.",
      labelNames: ['topology', 'partition'],
      registers,
    }),
    storeWrites: new Counter({
      name: 'imflow_store_writes_total',
      help: 'Committed store writes, per topology and store: what each message costs in storage operations.',
      labelNames: ['topology', 'store'],
      registers,
    }),
    openTasks: new Gauge({
      name: 'imflow_task_open',
      help: 'Tasks open in this instance, per topology.',
      labelNames: ['topology'],
      registers,
    }),
  }
}

/**
 * What the merge topology reports: receipts and reactions in, merged updates out against what
 * an unmerged design would have sent (one update per receipt or reaction per recipient), and
 * how long after a window's end its updates went out.
 */
export interface MergeMetrics {
  /** outcome: counted (the cursor moved), stale (it stood there or later), not_member. */
  readonly receiptsIn: Counter<'outcome'>
  /** outcome: changed, unchanged (a retry, a replay, a removal of nothing), not_member. */
  readonly reactionsIn: Counter<'outcome'>
  /** kind: read_status, reaction_summary; counted per recipient (a room event counts once). */
  readonly updatesOut: Counter<'kind'>
  /** What an unmerged design would have sent for the same input, per recipient. */
  readonly naiveUpdates: Counter<'kind'>
  readonly windowLag: Histogram<'size'>
  readonly lateRecords: Counter<'size'>
  /** outcome: parked (its sender not known a member yet), applied (she became one), expired. */
  readonly awaitingMember: Counter<'outcome'>
}

/** The merge topology's instruments; the reduction ratio is derived from two of them. */
export function createMergeMetrics(registry: Registry): MergeMetrics {
  const registers = [registry]
  const updatesOut = new Counter({
    name: 'imflow_merge_updates_out_total',
    help: 'Merged updates emitted (ReadStatus, ReactionSummary), per recipient; a large group’s room event counts once.',
    labelNames: ['kind'],
    registers,
  })
  const naiveUpdates = new Counter({
    name: 'imflow_merge_naive_updates_total',
    help: 'Updates an unmerged design would have emitted for the same input: one per receipt or reaction per recipient.',
    labelNames: ['kind'],
    registers,
  })
  const total = async (c: Counter<'kind'>) =>
    (await c.get()).values.reduce((sum, v) => sum + v.value, 0)
  new Gauge({
    name: 'imflow_merge_reduction_ratio',
    help: 'Fan-out cut by merging: 1 - merged updates out / naive updates (0 before any input).',
    registers,
    async collect() {
      const naive = await total(naiveUpdates)
      this.set(naive > 0 ? 1 - (await total(updatesOut)) / naive : 0)
    },
  })
  return {
    receiptsIn: new Counter({
      name: 'imflow_merge_receipts_in_total',
      help: 'Read receipts seen by the merge topology, by outcome (counted, stale, not_member).',
      labelNames: ['outcome'],
      registers,
    }),
    reactionsIn: new Counter({
      name: 'imflow_merge_reactions_in_total',
      help: 'Reaction changes seen by the merge topology, by outcome (changed, unchanged, not_member).',
      labelNames: ['outcome'],
      registers,
    }),
    updatesOut,
    naiveUpdates,
    windowLag: new Histogram({
      name: 'imflow_merge_window_lag_seconds',
      help: 'Wall-clock time from a merge window’s end to the emission of its updates, by size class.',
      labelNames: ['size'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    lateRecords: new Counter({
      name: 'imflow_merge_late_records_total',
      help: 'Receipts and reactions whose window had closed: counted in the window open then.',
      labelNames: ['size'],
      registers,
    }),
    awaitingMember: new Counter({
      name: 'imflow_merge_actions_awaiting_member_total',
      help: 'Receipts and reactions whose sender the merge did not know a member yet: parked, then applied or expired.',
      labelNames: ['outcome'],
      registers,
    }),
  }
}

/** What a push gateway counts, read from it at each scrape. */
export interface GatewayCounts {
  connections: number
  envelopes: number
  roomEvents: number
  delivered: number
}

/** The push gateway's instruments: connections held, envelopes and room events read, frames delivered. */
export function registerGatewayMetrics(registry: Registry, counts: () => GatewayCounts): void {
  const registers = [registry]
  new Gauge({
    name: 'imflow_gateway_connections',
    help: 'Device WebSocket connections this instance’s push gateway holds.',
    registers,
    collect() {
      this.set(counts().connections)
    },
  })
  new Counter({
    name: 'imflow_gateway_envelopes_total',
    help: 'Sync envelopes the push gateway read from im.sync (for its devices or not).',
    registers,
    collect() {
      this.reset()
      this.inc(counts().envelopes)
    },
  })
  new Counter({
    name: 'imflow_gateway_room_events_total',
    help: 'Large groups’ events the push gateway read from im.rooms (for its devices or not).',
    registers,
    collect() {
      this.reset()
      this.inc(counts().roomEvents)
    },
  })
  new Counter({
    name: 'imflow_gateway_frames_delivered_total',
    help: 'Frames written to device sockets (one envelope may go to several devices).',
    registers,
    collect() {
      this.reset()
      this.inc(counts().delivered)
    },
  })
}

/** What peak shaving counts (topologies/shaping's ShapingSnapshot), read at each scrape. */
export interface ShapingCounts {
  accepted: Readonly<Record<string, number>>
  throttled: Readonly<Record<string, number | undefined>>
  drained: number
  drainedForDeadline: number
  queued: number
  oldestAgeMs: number
  capacity: number
}

/** imflow_shaping_*: lanes (queued, age of the oldest, drained), throttles by reason, capacity. */
export function registerShapingMetrics(registry: Registry, counts: () => ShapingCounts): void {
  const registers = [registry]
  new Counter({
    name: 'imflow_shaping_accepted_total',
    help: 'Messages admitted by peak shaving, by priority (LOW ones into the LOW lane).',
    labelNames: ['priority'],
    registers,
    collect() {
      this.reset()
      for (const [priority, n] of Object.entries(counts().accepted)) this.inc({ priority }, n)
    },
  })
  new Counter({
    name: 'imflow_shaping_throttled_total',
    help: 'Messages answered Throttled, by reason (a rate limit, or OVERLOAD: smart throttling).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset()
      // OVERLOAD always has a sample: a dashboard shows 0, not "no data", before the first throttle.
      const throttled = { OVERLOAD: 0, ...counts().throttled }
      for (const [reason, n] of Object.entries(throttled)) this.inc({ reason }, n ?? 0)
    },
  })
  new Counter({
    name: 'imflow_shaping_low_drained_total',
    help: 'LOW messages delivered from the lane (rate(): drained/s); forced: at their deadline.',
    labelNames: ['cause'],
    registers,
    collect() {
      this.reset()
      const c = counts()
      this.inc({ cause: 'capacity' }, c.drained - c.drainedForDeadline)
      this.inc({ cause: 'deadline' }, c.drainedForDeadline)
    },
  })
  new Gauge({
    name: 'imflow_shaping_low_queued',
    help: 'LOW messages waiting in this instance’s receiver tasks.',
    registers,
    collect() {
      this.set(counts().queued)
    },
  })
  new Gauge({
    name: 'imflow_shaping_low_oldest_age_seconds',
    help: 'Age of the oldest waiting LOW message (0 when none waits).',
    registers,
    collect() {
      this.set(counts().oldestAgeMs / 1000)
    },
  })
  new Gauge({
    name: 'imflow_shaping_capacity',
    help: 'Messages/s this instance’s receiver tasks deliver before throttling (adaptive or configured).',
    registers,
    collect() {
      this.set(counts().capacity)
    },
  })
}

/** Per forwarding target topic: whether it exists, and records parked for it and sent on. */
export interface ForwardCounts {
  readonly up: Readonly<Record<string, boolean>>
  readonly parked: Readonly<Record<string, number>>
  readonly unparked: Readonly<Record<string, number>>
}

/** imflow_forward_*: other geos' and units' topics, and what waited for one that was missing. */
export function registerForwardMetrics(registry: Registry, counts: () => ForwardCounts): void {
  const registers = [registry]
  new Gauge({
    name: 'imflow_forward_target_up',
    help: "1 while another geo's or unit's topic this deployment forwards to exists, else 0.",
    labelNames: ['topic'],
    registers,
    collect() {
      this.reset()
      for (const [topic, up] of Object.entries(counts().up)) this.set({ topic }, up ? 1 : 0)
    },
  })
  new Counter({
    name: 'imflow_forward_parked_total',
    help: 'Records parked in the receiver because their target topic was missing.',
    labelNames: ['topic'],
    registers,
    collect() {
      this.reset()
      for (const [topic, n] of Object.entries(counts().parked)) this.inc({ topic }, n)
    },
  })
  new Counter({
    name: 'imflow_forward_unparked_total',
    help: 'Parked records sent on once their target topic existed again.',
    labelNames: ['topic'],
    registers,
    collect() {
      this.reset()
      for (const [topic, n] of Object.entries(counts().unparked)) this.inc({ topic }, n)
    },
  })
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'imflow_process_' })
  const sources: (() => Promise<MetricsJson[]>)[] = []
  return {
    registry,
    async render() {
      const others = (await Promise.all(sources.map((s) => s()))).flat()
      // One process (or the others not up): this registry's own text, not a merge of one.
      if (others.length === 0) return registry.metrics()
      return AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...others]).metrics()
    },
    addSource: (source) => {
      sources.push(source)
    },
    httpRequests: new Counter({
      name: 'imflow_http_requests_total',
      help: 'HTTP API requests answered, by route, method and status code.',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'imflow_http_request_duration_seconds',
      help: 'HTTP API request latency.',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    dependencyUp: new Gauge({
      name: 'imflow_dependency_up',
      help: '1 when the dependency (kafka, schema_registry) answered its last readiness probe, else 0.',
      labelNames: ['dependency'],
      registers: [registry],
    }),
    task: taskMetrics(registry),
    merge: createMergeMetrics(registry),
    receiver: {
      moveBarrierTimeouts: new Counter({
        name: 'imflow_receiver_move_barrier_timeouts_total',
        help: 'Conversation moves into this unit that completed without their barrier: the old home did not send it back within 30 s (docs/units.md).',
        registers: [registry],
      }),
    },
  }
}
