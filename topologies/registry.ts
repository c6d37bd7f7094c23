// Every topology imflow runs, in start order: `imflow start` starts them, creates the topics
// they need and hands their queries to the API by looping over this list. A new topology is
// its folder (with a module.ts) and one line here.
//
// Order matters where one creates what the next reads: the receiver creates the fanout topic
// (its repartition topic) that inbox and sync read, so it starts before them.

import { inboxModule } from './inbox/index.js'
import { mergeModule, messageIndexModule } from './merge/index.js'
import { inboundModule, receiverModule } from './receiver/index.js'
import { syncModule } from './sync/index.js'

export const topologyModules = [
  inboundModule,
  receiverModule,
  inboxModule,
  syncModule,
  // The index creates the topic merge reads.
  messageIndexModule,
  mergeModule,
] as const

type Module = (typeof topologyModules)[number]

/** The queries of each module that has them, by the module's name. */
export type TopologyQueries = {
  readonly [M in Module as M extends { queries: unknown } ? M['name'] : never]: M extends {
    queries(...args: never[]): infer Q
  }
    ? Q
    : never
}
