// Peak shaving (docs/shaping.md): the receiver's admission hook, the limits document, and
// what it reports.

export { adaptCapacity, type CapacitySettings } from './capacity.js'
export { DRAIN_EVERY_MS, DrainPace, drainMargin } from './drain-pace.js'
export {
  APPLICATION_HEADER,
  CLIENT_TYPE_HEADER,
  DIMENSIONS,
  type Dimension,
  type DimensionLimits,
  type Limits,
  limitsProblems,
  limitsSchema,
} from './limits.js'
export { LimitsTable } from './limits-table.js'
export {
  SHAPING_STORES,
  type ShapingOptions,
  shaping,
} from './shaper.js'
export { type ShapingSnapshot, ShapingStats } from './stats.js'
export type { RateLimit } from './token-bucket.js'
