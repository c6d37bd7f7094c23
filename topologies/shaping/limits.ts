// The limits document: the capacity, the LOW deadline and the rate limits of each dimension.
// Read and replaced at run time (GET/PUT /v1/limits); every instance's tasks see the latest
// one (limits-table.ts). Validated here, once, for both the API and what is read back.

import type { ThrottleReason } from '../../schemas/types.generated.js'
import type { RateLimit } from './token-bucket.js'

export const DIMENSIONS = ['conversation', 'user', 'clientType', 'application'] as const
export type Dimension = (typeof DIMENSIONS)[number]

/** The reason a Throttled receipt names for each dimension. */
export const THROTTLE_REASONS: Readonly<Record<Dimension, ThrottleReason>> = {
  conversation: 'CONVERSATION_RATE',
  user: 'USER_RATE',
  clientType: 'CLIENT_TYPE_RATE',
  application: 'APPLICATION_RATE',
}

/** Headers naming the app platform and the calling application (the API sets them). */
export const CLIENT_TYPE_HEADER = 'imflow-client-type'
export const APPLICATION_HEADER = 'imflow-app'

export interface DimensionLimits {
  /** The limit of every key of the dimension; null: unlimited. */
  default: RateLimit | null
  /** Keys with a limit of their own (a bot's user id, an application, a platform). */
  overrides: Record<string, RateLimit>
}

export interface Limits {
  /** Messages/s a receiver task (one partition) delivers before smart throttling starts. */
  capacity: number
  /** A LOW message is delivered at most this long after it was accepted. */
  lowDeadlineMs: number
  conversation: DimensionLimits
  user: DimensionLimits
  clientType: DimensionLimits
  application: DimensionLimits
}

/** The limit that applies to one key of a dimension, if any. */
export function limitOf(limits: Limits, dimension: Dimension, key: string): RateLimit | null {
  const d = limits[dimension]
  return d.overrides[key] ?? d.default
}

const rateLimit = {
  type: 'object',
  additionalProperties: false,
  required: ['rate', 'burst'],
  properties: {
    rate: { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000 },
    burst: { type: 'number', minimum: 1, maximum: 10_000_000 },
  },
} as const

const dimension = {
  type: 'object',
  additionalProperties: false,
  required: ['default', 'overrides'],
  properties: {
    default: { anyOf: [{ type: 'null' }, rateLimit] },
    overrides: {
      type: 'object',
      maxProperties: 10_000,
      propertyNames: { minLength: 1, maxLength: 256 },
      additionalProperties: rateLimit,
    },
  },
} as const

/** JSON Schema of the document (PUT /v1/limits validates bodies with it). */
export const limitsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['capacity', 'lowDeadlineMs', ...DIMENSIONS],
  properties: {
    capacity: { type: 'number', exclusiveMinimum: 0, maximum: 10_000_000 },
    lowDeadlineMs: { type: 'integer', minimum: 100, maximum: 7 * 24 * 3_600_000 },
    conversation: dimension,
    user: dimension,
    clientType: dimension,
    application: dimension,
  },
} as const

function rateLimitProblems(value: unknown, where: string): string[] {
  const r = value as Partial<RateLimit> | null
  if (typeof r !== 'object' || r === null) return [`${where} must be {rate, burst}`]
  const problems: string[] = []
  if (typeof r.rate !== 'number' || !(r.rate > 0)) problems.push(`${where}.rate must be above 0`)
  if (typeof r.burst !== 'number' || !(r.burst >= 1))
    problems.push(`${where}.burst must be at least 1`)
  return problems
}

/**
 * What is wrong with a limits document (empty: nothing). The API's schema checks requests;
 * this checks what is read back from the limits topic, written by any version of imflow.
 */
export function limitsProblems(value: unknown): string[] {
  const l = value as Partial<Limits> | null
  if (typeof l !== 'object' || l === null) return ['the limits must be an object']
  const problems: string[] = []
  if (typeof l.capacity !== 'number' || !(l.capacity > 0)) problems.push('capacity must be above 0')
  if (typeof l.lowDeadlineMs !== 'number' || !(l.lowDeadlineMs >= 100))
    problems.push('lowDeadlineMs must be at least 100')
  for (const d of DIMENSIONS) {
    const dim = l[d] as Partial<DimensionLimits> | undefined
    if (typeof dim !== 'object' || dim === null) {
      problems.push(`${d} must be {default, overrides}`)
      continue
    }
    if (dim.default !== null) problems.push(...rateLimitProblems(dim.default, `${d}.default`))
    if (typeof dim.overrides !== 'object' || dim.overrides === null)
      problems.push(`${d}.overrides must be an object`)
    else
      for (const [key, r] of Object.entries(dim.overrides))
        problems.push(...rateLimitProblems(r, `${d}.overrides.${key}`))
  }
  return problems
}
