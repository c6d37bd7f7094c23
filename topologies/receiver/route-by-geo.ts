// Acting from home: a user writes through their own geo's API, also to a conversation homed in
// another geo. Its messages and actions reach this receiver with the header naming the
// conversation's home geo (the API found it, asking the geos); a conversation this receiver
// does not know is then forwarded there, once, in the task's transaction, like a unit's. The
// home decides (membership included) and sends a message's receipt back to this geo's
// receipts topic. One hop, as for units: what arrived forwarded is never forwarded again.

import type { InputRecord } from '../runtime/index.js'
import type { Forwarder } from './forward-or-park.js'
import { header } from './move-in.js'

/** Set by the API: the geo a conversation unknown here is homed in. */
export const HOME_GEO_HEADER = 'imflow-home-geo'
/** Set when forwarding: the geo whose API the user wrote to; receipts go back there. */
export const ORIGIN_GEO_HEADER = 'imflow-origin-geo'

/**
 * Another geo's contract topics its receiver reads (ingest, actions), its API waits on
 * (receipts) and its gateways push large groups from (rooms).
 */
export interface GeoTopics {
  ingest: string
  actions: string
  receipts: string
  rooms: string
}

export function geoSink(geo: string, topic: keyof GeoTopics): string {
  return `geo:${geo}:${topic}`
}

/** The receiver's sinks for every remote geo's contract topics. */
export function geoSinks(
  remote: Readonly<Record<string, GeoTopics>>,
): Record<string, { topic: string }> {
  return Object.fromEntries(
    Object.entries(remote).flatMap(([geo, topics]) =>
      (Object.keys(topics) as (keyof GeoTopics)[]).map((t) => [
        geoSink(geo, t),
        { topic: topics[t] },
      ]),
    ),
  )
}

export interface GeoRouterOptions {
  forward: Forwarder
  local: string
  remote: Readonly<Record<string, GeoTopics>>
}

export function geoRouter({ forward, local, remote }: GeoRouterOptions) {
  const known = (geo: string | undefined): geo is string =>
    geo !== undefined && geo !== local && Object.hasOwn(remote, geo)
  return {
    /**
     * Forwards a record of a conversation unknown here to the home geo the API named, as it
     * was written plus the origin; false when it stays here (no home named, or already forwarded).
     */
    async forward(
      record: InputRecord,
      topic: 'ingest' | 'actions',
      key: string,
      value: () => Buffer,
    ): Promise<boolean> {
      const home = header(record, HOME_GEO_HEADER)
      if (!known(home) || header(record, ORIGIN_GEO_HEADER) !== undefined) return false
      const headers: Record<string, Buffer | string> = {}
      for (const [name, v] of Object.entries(record.headers)) {
        const one = Array.isArray(v) ? v.at(-1) : v
        if (one !== undefined && name !== HOME_GEO_HEADER) headers[name] = one
      }
      headers[ORIGIN_GEO_HEADER] = local
      await forward.send(geoSink(home, topic), { key, value: value(), headers })
      return true
    },

    /** Where a receipt goes: back to the geo a message was forwarded from; undefined: here. */
    receiptSink(record: InputRecord): string | undefined {
      const origin = header(record, ORIGIN_GEO_HEADER)
      return known(origin) ? geoSink(origin, 'receipts') : undefined
    },
  }
}

export type GeoRouter = ReturnType<typeof geoRouter>
