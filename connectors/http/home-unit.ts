// Units (IMFLOW_REMOTE_UNIT_URLS): a unit that only routes a conversation keeps none of its
// log, read cursors or merged totals; they are at its home unit. Every read of them made
// through this unit's API is the home unit's answer, asked through the same home client as
// geos use (home-client.ts), with the caller's token.

import { normalizeUnit, type ReceiverQueries } from '../../topologies/receiver/index.js'
import type { GeoHomes } from './home-client.js'

export interface UnitHomes {
  /** This deployment's unit (IMFLOW_UNIT). */
  local: number
  homes: GeoHomes
  /** Remote unit -> its API's base URL. */
  urls: Readonly<Record<string, string>>
}

/**
 * The unit whose API answers reads of the conversation: its home, when that is another unit
 * whose API is listed here (this one only routes it); else undefined: the answer is here.
 */
export async function remoteHomeUnit(
  units: UnitHomes | undefined,
  receiver: Pick<ReceiverQueries, 'conversation'>,
  conversationId: string,
): Promise<string | undefined> {
  if (!units) return undefined
  const meta = await receiver.conversation(conversationId)
  const unit = normalizeUnit(meta?.unit ?? '')
  if (unit === '' || unit === String(units.local) || !Object.hasOwn(units.urls, unit))
    return undefined
  return unit
}
