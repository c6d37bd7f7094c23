// What of an app id lives in Kafka, found by name: its topologies' consumer groups
// (`<appId>-<topology>`) and their stores' changelogs (`<appId>-<topology>-<store>-changelog`,
// topologies/runtime/topic-names.ts). Found from the cluster, not by building the topologies,
// so `imflow digest` needs neither the registry nor a running app.

import { topologyModules } from '../../../../topologies/registry.js'
import { ImflowError } from '../../../errors.js'

export interface StoreLog {
  readonly topology: string
  readonly store: string
  readonly topic: string
}

/** Every topology name imflow runs, in start order. */
export const topologyNames: readonly string[] = topologyModules.map((m) => m.name)

/** The topologies named (all when none are), checked against the registry. */
export function chooseTopologies(named: readonly string[] | undefined): string[] {
  if (!named || named.length === 0) return [...topologyNames]
  const unknown = named.filter((n) => !topologyNames.includes(n))
  if (unknown.length > 0) {
    throw new ImflowError(
      'IMF_ERR_USAGE',
      `unknown topology ${unknown.join(', ')}; known: ${topologyNames.join(', ')}`,
    )
  }
  return [...new Set(named)]
}

/** The consumer group a topology's tasks form under the runtime id. */
export function topologyGroup(runtimeId: string, topology: string): string {
  return `${runtimeId}-${topology}`
}

/** The changelogs among `topics` of the runtime id's chosen topologies, sorted. */
export function storeLogs(
  topics: readonly string[],
  runtimeId: string,
  topologies: readonly string[],
): StoreLog[] {
  // Longest name first: `merge-index`'s changelogs also start with `<appId>-merge-`.
  const byLength = [...topologyNames].sort((a, b) => b.length - a.length)
  const logs: StoreLog[] = []
  for (const topic of topics) {
    if (!topic.endsWith('-changelog')) continue
    const topology = byLength.find((t) => topic.startsWith(`${runtimeId}-${t}-`))
    if (topology === undefined || !topologies.includes(topology)) continue
    const store = topic.slice(`${runtimeId}-${topology}-`.length, -'-changelog'.length)
    if (store.length > 0) logs.push({ topology, store, topic })
  }
  return logs.sort((a, b) => a.topic.localeCompare(b.topic))
}
