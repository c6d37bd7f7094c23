// Types of metric-names.js (plain JavaScript: the dashboard page loads it as it is).

export const present: Readonly<Record<string, string>> & {
  readonly recordsIn: string
  readonly lag: string
  readonly deadLetters: string
  readonly httpRequests: string
  readonly httpDuration: string
  readonly connections: string
  readonly framesDelivered: string
  readonly eventLoopP50: string
  readonly eventLoopP99: string
  readonly mergeIn: string
  readonly mergeOut: string
  readonly throttled: string
  readonly lowQueued: string
  readonly lowOldestAge: string
}
export const expected: Readonly<Record<string, string>> & {
  readonly pushLatency: string
}
