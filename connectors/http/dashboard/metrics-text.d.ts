// Types of metrics-text.js (plain JavaScript so the dashboard page loads it without a build).

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}
export interface Bucket {
  le: number
  count: number
}
export function parseMetrics(text: string): Sample[]
export function has(samples: readonly Sample[], name: string): boolean
export function total(
  samples: readonly Sample[],
  name: string,
  where?: Record<string, string>,
): number | undefined
export function totalBy(
  samples: readonly Sample[],
  name: string,
  by: string,
): Record<string, number>
export function buckets(
  samples: readonly Sample[],
  name: string,
  where?: Record<string, string>,
): Bucket[]
export function bucketsBetween(before: readonly Bucket[], after: readonly Bucket[]): Bucket[]
export function quantile(cumulative: readonly Bucket[], q: number): number | undefined
