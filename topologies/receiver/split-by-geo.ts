// Geo split: each recipient's home geo is a local lookup in the users' global table; local
// recipients are handed on here, each remote geo gets its share in one forwarded record.

import type { GeoSplit } from './receiver-options.js'

export function splitByGeo(
  recipients: readonly string[],
  geos: GeoSplit | undefined,
): { local: string[]; remote: Map<string, string[]> } {
  const local: string[] = []
  const remote = new Map<string, string[]>()
  for (const userId of recipients) {
    const geo = geos?.geoOf(userId)
    if (!geos || geo === undefined || geo === geos.local || !(geo in geos.inbound)) {
      local.push(userId)
      continue
    }
    const share = remote.get(geo)
    if (share) share.push(userId)
    else remote.set(geo, [userId])
  }
  return { local, remote }
}
