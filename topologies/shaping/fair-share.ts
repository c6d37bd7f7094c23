// Smart throttling: when the load passes capacity, the hottest conversations give way first,
// cut to a common level (max-min fairness, "water-filling"), instead of every conversation
// getting a low fixed limit. Large groups are cut first: while any large group is over its
// share, 1:1 chats and small groups are left alone.

export interface HotConversation {
  key: string
  /** Offered messages/s (an estimate from the heavy-hitter sketch). */
  rate: number
  large: boolean
}

/**
 * The water level: the largest L with fixed + sum(min(rate, L)) <= capacity. Infinity when
 * everything fits; 0 when the fixed load alone fills the capacity.
 */
export function waterLevel(capacity: number, rates: readonly number[], fixed = 0): number {
  let remaining = capacity - fixed
  if (remaining <= 0) return 0
  const sorted = [...rates].sort((a, b) => a - b)
  for (const [i, rate] of sorted.entries()) {
    const left = sorted.length - i
    if (rate * left > remaining) return remaining / left
    remaining -= rate
  }
  return Number.POSITIVE_INFINITY
}

export interface OverloadView {
  /** messages/s the task may deliver. */
  capacity: number
  /** Offered messages/s over all conversations. */
  totalRate: number
  /** The heavy hitters, with their offered rates. */
  hot: readonly HotConversation[]
}

/** Under overload: is this conversation over its share (so its message is throttled)? */
export function overShare(view: OverloadView, key: string, rate: number, large: boolean): boolean {
  const largeHot = view.hot.filter((h) => h.large)
  const largeLoad = largeHot.reduce((sum, h) => sum + h.rate, 0)
  // Everything that is not a tracked large group counts as fixed load the large ones make room for.
  const largeLevel = waterLevel(
    view.capacity,
    largeHot.map((h) => h.rate),
    Math.max(0, view.totalRate - largeLoad),
  )
  if (large) return rate > largeLevel
  if (largeHot.some((h) => h.rate > largeLevel)) return false
  const hotLoad = view.hot.reduce((sum, h) => sum + h.rate, 0)
  const level = waterLevel(
    view.capacity,
    view.hot.map((h) => h.rate),
    Math.max(0, view.totalRate - hotLoad),
  )
  // A conversation the sketch does not track is no heavy hitter: it is left alone.
  return view.hot.some((h) => h.key === key) && rate > level
}
