// `imflow demo`: realistic traffic through a running imflow (ops/app/demo/), with a live summary.

import { ImflowError } from '../../errors.js'
import { loadConfig } from '../config.js'
import { runDemo } from '../demo/run-demo.js'
import { parseCount, parseDuration, parseToolArgs } from './args.js'
import { jwtSecret } from './token.js'

export const demoUsage = `Usage: imflow demo [--url <api>] [--users N] [--rate N] [--duration <d>] [--devices N]

Drives the seeds' workload through a running imflow over its HTTP API and WebSockets: per-user
send rates lognormal (sigma 1.55), average fan-out ~30, many small groups, some of 500-2,000
members and, with --users 10000 or more, one of 10,000+; 1:1 and PRIVATE messages; read
receipts; devices going online and offline. Shows a live summary, then a report.
Tokens are signed with IMFLOW_JWT_SECRET (or --jwt-secret): the server's secret.
  --url <api>        the API (default: http://IMFLOW_HOST:IMFLOW_PORT, i.e. http://127.0.0.1:8080)
  --users N          users in the population (default 3000)
  --rate N           messages per second (default 50)
  --duration <d>     how long to send: 30s, 5m (default 60s)
  --devices N        devices online at once (default 100)
  --seed N           the population's seed (default 7)`

export async function demoCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseToolArgs('demo', argv, {
    url: { type: 'string' },
    users: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    devices: { type: 'string' },
    seed: { type: 'string' },
    'jwt-secret': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help) {
    process.stdout.write(`${demoUsage}\n`)
    return 0
  }
  if (positionals.length > 0) {
    throw new ImflowError('IMF_ERR_USAGE', `imflow demo: unexpected argument "${positionals[0]}"`)
  }
  const options = {
    users: parseCount(values.users ?? '3000', '--users', 2),
    rate: parseCount(values.rate ?? '50', '--rate'),
    durationSeconds: parseDuration(values.duration ?? '60s', '--duration'),
    devices: parseCount(values.devices ?? '100', '--devices', 0),
    seed: parseCount(values.seed ?? '7', '--seed', 0),
  }
  const secret = jwtSecret(process.env, values['jwt-secret'])
  const url = values.url ?? loadConfig(process.env).advertisedUrl
  const stop = new AbortController()
  const interrupt = () => stop.abort()
  process.once('SIGINT', interrupt)
  try {
    const { stats } = await runDemo({
      ...options,
      url,
      jwtSecret: secret,
      write: (text) => process.stdout.write(text),
      tty: process.stdout.isTTY === true,
      signal: stop.signal,
    })
    return stats.accepted > 0 ? 0 : 1
  } finally {
    process.off('SIGINT', interrupt)
  }
}
