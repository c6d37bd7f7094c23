// The requests this process's kafkajs clients send to the brokers, by API: what the broker
// pays for per message. On this machine the broker's CPU goes largely per request (its request
// metrics alone were ~12% of its samples at 50 messages/s in the sync bench: docs/sync.md), so
// transactions per message, and the round trips per transaction, are what to count.
// Counted on kafkajs' Connection (every client's requests pass there); for benchmarks only.

import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const Connection = require('kafkajs/src/network/connection.js') as {
  prototype: { send(request: { request: { apiName: string } }): Promise<unknown> }
}

const counts = new Map<string, number>()
let installed = false

function install(): void {
  if (installed) return
  installed = true
  const send = Connection.prototype.send
  Connection.prototype.send = function (this: unknown, request) {
    const api = request.request.apiName
    counts.set(api, (counts.get(api) ?? 0) + 1)
    return send.call(this, request)
  }
}

export type RequestCounts = ReadonlyMap<string, number>

/** The requests sent so far, by API (counting starts at the first call). */
export function brokerRequests(): RequestCounts {
  install()
  return new Map(counts)
}

/** "broker requests 1,553/s: Produce 337, Fetch 292, EndTxn 150, ..." between two snapshots. */
export function requestLine(before: RequestCounts, after: RequestCounts, seconds: number): string {
  const rates = [...after]
    .map(([api, n]) => [api, (n - (before.get(api) ?? 0)) / seconds] as const)
    .filter(([, rate]) => rate >= 0.5)
    .sort((a, b) => b[1] - a[1])
  const total = rates.reduce((sum, [, rate]) => sum + rate, 0)
  return `broker requests ${total.toFixed(0)}/s: ${rates.map(([api, rate]) => `${api} ${rate.toFixed(0)}`).join(', ')}`
}
