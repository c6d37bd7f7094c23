// What the tool commands (token, demo, bench) share: their own flags, parsed strictly, and
// durations written the way people write them (90s, 15m, 24h, 7d).

import { type ParseArgsConfig, parseArgs } from 'node:util'
import { ImflowError } from '../../errors.js'

type Options = NonNullable<ParseArgsConfig['options']>

/** parseArgs, with a usage error (IMF_ERR_USAGE) that names the command instead of a TypeError. */
export function parseToolArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new ImflowError('IMF_ERR_USAGE', `imflow ${command}: ${(err as Error).message}`)
  }
}

const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3_600, d: 86_400 }

/** Seconds in "500ms", "90s", "15m", "24h", "7d" or a bare number of seconds. */
export function parseDuration(raw: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim())
  const seconds = m ? Number(m[1]) * (units[m[2] ?? 's'] as number) : Number.NaN
  if (!(seconds > 0)) {
    throw new ImflowError(
      'IMF_ERR_USAGE',
      `${what}="${raw}": expected a duration such as 90s, 15m, 24h or 7d`,
    )
  }
  return seconds
}

/** A whole number of at least `min`, from a flag. */
export function parseCount(raw: string, what: string, min = 1): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN
  if (!(n >= min)) {
    throw new ImflowError('IMF_ERR_USAGE', `${what}="${raw}": expected a whole number >= ${min}`)
  }
  return n
}
