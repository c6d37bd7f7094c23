// The metric names the dashboard reads. `present`: in ops/metrics.ts. `expected`: what work in
// progress is asked to report under these names (push latency: the push gateway); until then
// its panel shows "—". A test checks both lists against the catalogue, and ops/monitoring/
// uses the same names.

export const present = {
  recordsIn: 'imflow_task_records_in_total',
  lag: 'imflow_task_lag_records',
  deadLetters: 'imflow_task_dead_letters_total',
  httpRequests: 'imflow_http_requests_total',
  httpDuration: 'imflow_http_request_duration_seconds',
  connections: 'imflow_gateway_connections',
  framesDelivered: 'imflow_gateway_frames_delivered_total',
  eventLoopP50: 'imflow_process_nodejs_eventloop_lag_p50_seconds',
  eventLoopP99: 'imflow_process_nodejs_eventloop_lag_p99_seconds',
  /** Counter: updates an unmerged design would have sent (one per receipt or reaction per recipient). */
  mergeIn: 'imflow_merge_naive_updates_total',
  /** Counter: merged updates (ReadStatus, ReactionSummary) sent instead. */
  mergeOut: 'imflow_merge_updates_out_total',
  /** Counter, label `dimension`: messages answered with a Throttled receipt. */
  throttled: 'imflow_shaping_throttled_total',
  /** Gauge: LOW-priority messages queued. */
  lowQueued: 'imflow_shaping_low_queued',
  /** Gauge: age of the oldest queued LOW message (alert before IMFLOW_LOW_DEADLINE_MS). */
  lowOldestAge: 'imflow_shaping_low_oldest_age_seconds',
}

export const expected = {
  /** Histogram: from a message's createdAt to its frame written to a device socket. */
  pushLatency: 'imflow_gateway_push_latency_seconds',
}
