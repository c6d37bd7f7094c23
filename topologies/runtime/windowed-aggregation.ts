// Windowed aggregation on event time: tumbling (advance = size) or hopping windows, a grace
// period for out-of-order records, one final result per window when stream time passes its
// end + grace (optionally early results on every update), and late records — those whose
// windows have all closed — counted and handed to a handler instead of silently dropped.
// Emitting a final result and deleting its window commit in one transaction: exactly once.

import { type Serde, type Window, WindowStore, windowsFor } from '../../state/index.js'
import type { InputRecord, ProcessorContext } from './topology.js'

export interface WindowResult<K, A> {
  readonly key: K
  readonly window: Window
  readonly value: A
  /** true for the one result emitted when the window closes. */
  readonly final: boolean
}

export interface WindowedAggregationOptions<K, V, A> {
  /** A store declared by the topology. */
  store: string
  sizeMs: number
  /** Hopping windows start every advanceMs; default: sizeMs (tumbling). */
  advanceMs?: number
  graceMs: number
  keys: Serde<K>
  aggregates: Serde<A>
  init(): A
  add(aggregate: A, value: V): A
  emit(result: WindowResult<K, A>): void
  /** Emit the updated aggregate on every record as well (final: false). */
  emitEarly?: boolean
  /** Called for each record that arrived after every window it belongs to had closed. */
  onLate?(record: InputRecord, key: K): void
}

export interface WindowedAggregation<K, V> {
  add(record: InputRecord, key: K, value: V): Promise<void>
  /** Late records seen by this task since it opened. */
  lateRecords(): number
}

const STREAM_TIME = 'stream-time'

export function windowedAggregation<K, V, A>(
  context: ProcessorContext,
  options: WindowedAggregationOptions<K, V, A>,
): WindowedAggregation<K, V> {
  const { sizeMs, graceMs } = options
  const advanceMs = options.advanceMs ?? sizeMs
  if (!(sizeMs > 0 && advanceMs > 0 && advanceMs <= sizeMs && graceMs >= 0)) {
    throw new RangeError(
      `windows need 0 < advanceMs <= sizeMs and graceMs >= 0 (size ${sizeMs}, advance ${advanceMs}, grace ${graceMs})`,
    )
  }
  const windows = new WindowStore<K, A>(
    context.store(options.store),
    options.keys,
    options.aggregates,
  )
  let late = 0

  const closeUpTo = async (streamTime: number) => {
    // A window closes once stream time reaches end + grace: start <= streamTime - size - grace.
    for await (const entry of windows.startingBefore(streamTime - sizeMs - graceMs + 1)) {
      options.emit({
        key: entry.key,
        window: { start: entry.start, end: entry.start + sizeMs },
        value: entry.value,
        final: true,
      })
      windows.delete(entry.start, entry.key)
    }
  }

  return {
    async add(record, key, value) {
      // Stream time is kept in the store, so a restored task closes windows exactly as before.
      const before = (await windows.getMeta(STREAM_TIME)) ?? Number.NEGATIVE_INFINITY
      const streamTime = Math.max(before, record.timestamp)
      let accepted = false
      for (const window of windowsFor(record.timestamp, sizeMs, advanceMs)) {
        if (window.end + graceMs <= streamTime) continue
        accepted = true
        const aggregate = options.add(
          (await windows.get(window.start, key)) ?? options.init(),
          value,
        )
        windows.put(window.start, key, aggregate)
        if (options.emitEarly) options.emit({ key, window, value: aggregate, final: false })
      }
      if (!accepted) {
        late++
        options.onLate?.(record, key)
      }
      if (streamTime > before) {
        windows.putMeta(STREAM_TIME, streamTime)
        await closeUpTo(streamTime)
      }
    },
    lateRecords: () => late,
  }
}
