// The contract every topology module meets, so the composition root can start them, hand
// their queries to the API and create the topics they need by looping over one registry
// (topologies/registry.ts) instead of wiring each by hand. A module gets the deployment's
// wiring (W: topics, codecs, settings) and returns its topology; it never reads config.

import type { RunningTopology } from './internal/runner.js'
import type { TopologyDefinition } from './topology.js'

export interface TopologyModule<N extends string = string, W = unknown, Q = unknown> {
  /** The topology's name (its consumer group, state folder and changelogs carry it). */
  readonly name: N
  /**
   * Topics of this deployment the topology reads that nothing here creates before it starts
   * (others write them: another geo's receiver, for instance); provisioning creates them with
   * the contract's partition count. It may use only the wiring's topic naming, which is all
   * provisioning has. Repartition topics it writes itself go in the definition instead.
   */
  topics?(wiring: W): readonly string[]
  /**
   * No push waits on this topology's outputs and the API authorises nothing by its state (it
   * feeds lists, indexes): it begins a transaction at most every IMFLOW_TRANSACTION_PACE_MS,
   * in fewer, larger ones.
   */
  paced?: boolean
  build(wiring: W): TopologyDefinition
  /** What the API reads of the topology's committed state. */
  queries?(running: RunningTopology, wiring: W): Q
}

/**
 * Keeps the module's own type (its literal name, whether it has queries and what they are),
 * so the registry's map of queries is typed by name.
 */
export function defineModule<const M extends TopologyModule<string, never, unknown>>(module: M): M {
  return Object.freeze(module)
}
