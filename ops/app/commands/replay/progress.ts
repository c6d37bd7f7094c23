// What a running replay shows: records replayed of the total, the rate, the ETA and the
// partitions furthest behind. On a terminal one line redrawn with a bar; otherwise (a log, a
// pipe) a plain line now and then, so a log file does not fill with redraws.

export interface PartitionProgress {
  readonly topic: string
  readonly partition: number
  /** Records of this partition's replay still to go. */
  readonly lag: number
}

export interface ProgressSnapshot {
  readonly done: number
  readonly total: number
  /** Records per second over the last samples. */
  readonly rate: number
  readonly partitions: readonly PartitionProgress[]
  /** The inputs are replayed; what the topologies wrote for each other is being read. */
  readonly draining: boolean
}

/** Seconds left at the current rate; undefined while nothing moves. */
export function etaSeconds(s: ProgressSnapshot): number | undefined {
  const left = s.total - s.done
  if (left <= 0) return 0
  return s.rate > 0 ? Math.ceil(left / s.rate) : undefined
}

const number = new Intl.NumberFormat('en-US')

function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '?'
  if (seconds < 60) return `${seconds}s`
  const m = Math.floor(seconds / 60)
  return m < 60
    ? `${m}m${String(seconds % 60).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/** The partitions most behind, as topic/p:lag (at most `max`). */
function behind(s: ProgressSnapshot, max: number): string {
  const lagging = s.partitions.filter((p) => p.lag > 0).sort((a, b) => b.lag - a.lag)
  if (lagging.length === 0) return 'lag 0'
  const shown = lagging
    .slice(0, max)
    .map((p) => `${p.topic}/${p.partition}:${number.format(p.lag)}`)
  return `lag ${shown.join(' ')}${lagging.length > max ? ` +${lagging.length - max} more` : ''}`
}

/** One line: with a bar for a terminal of `width` columns, else plain. */
export function progressLine(s: ProgressSnapshot, tty: boolean, width = 100): string {
  const share = s.total === 0 ? 1 : Math.min(1, s.done / s.total)
  const counts = `${number.format(s.done)}/${number.format(s.total)} records`
  const speed = `${number.format(Math.round(s.rate))}/s`
  const eta = s.draining ? 'draining hand-offs' : `ETA ${duration(etaSeconds(s))}`
  if (!tty) return `replay ${Math.floor(share * 100)}% ${counts} ${speed} ${eta} ${behind(s, 8)}`
  const text = ` ${String(Math.floor(share * 100)).padStart(3)}% ${counts} ${speed} ${eta} ${behind(s, 3)}`
  const barWidth = Math.max(10, Math.min(30, width - text.length - 3))
  const filled = Math.round(share * barWidth)
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${text}`.slice(
    0,
    Math.max(20, width - 1),
  )
}

/** The rate over a sliding window of (time, done) samples. */
export class RateMeter {
  private readonly samples: { at: number; done: number }[] = []

  constructor(private readonly windowMs = 10_000) {}

  sample(at: number, done: number): number {
    this.samples.push({ at, done })
    while (this.samples.length > 2 && at - (this.samples[0] as { at: number }).at > this.windowMs)
      this.samples.shift()
    const first = this.samples[0] as { at: number; done: number }
    const seconds = (at - first.at) / 1000
    return seconds > 0 ? Math.max(0, (done - first.done) / seconds) : 0
  }
}
