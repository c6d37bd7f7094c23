// Acting from home, the caller's side: a user homed here asks about a conversation this
// geo does not know. The remote geos' APIs (IMFLOW_REMOTE_GEO_URLS) are asked, with the
// user's own token, which of them is its home and has the user as a member; the answer is
// kept a while (the home checks membership again on every write). Reads of the conversation's
// own state (its log, size, the user's read cursor) then go to that home (home-routes.ts).

import { ImflowError } from '../../ops/errors.js'
import type { StoredMessage } from '../../schemas/types.generated.js'
import type { ConversationLog, Positioned } from '../../topologies/model/index.js'
import { HOME_PAGE, HOME_PATH, HOME_READ_HEADER } from './home-routes.js'

/** Homes kept at most (conversation and user pairs). */
const CACHE_MAX = 10_000

export interface GeoHomes {
  /** The remote geo the conversation is homed in, with the user a member there; else undefined. */
  locate(conversationId: string, userId: string, authorization: string): Promise<string | undefined>
  /** The conversation's state at its home, read with the caller's token. */
  log(geo: string, authorization: string): ConversationLog
  /**
   * A member's read of the home's own /v1 API (a message's merged read and reaction totals),
   * with the caller's token: the home's answer, or undefined when it says no.
   */
  read<T>(geo: string, authorization: string, path: string, hops?: number): Promise<T | undefined>
}

export interface GeoHomesOptions {
  /** Remote geo -> its API's base URL. */
  urls: Readonly<Record<string, string>>
  /** What the remote deployments are, for messages: 'geo' (default) or 'unit' (IMFLOW_REMOTE_UNIT_URLS). */
  kind?: 'geo' | 'unit'
  timeoutMs?: number
  /** How long a found home is kept (a conversation's geo never changes; membership may). */
  cacheMs?: number
  clock?: () => number
}

type Summary = {
  sequence: { memberCount: number; seq: number } | null
  readCursor: string | null
}

/** The remote geos' home routes, asked with the caller's token. */
class HomeApi {
  constructor(
    private readonly urls: Readonly<Record<string, string>>,
    private readonly timeoutMs: number,
    readonly kind: 'geo' | 'unit',
  ) {}

  /** The home's answer; undefined when it says no (not a member there, or not homed there). */
  get<T>(geo: string, authorization: string, path: string): Promise<T | undefined> {
    return this.fetch<T>(geo, authorization, `${HOME_PATH}/${path}`)
  }

  /** `hops`: how many APIs have asked on so far, this one included (home-unit.ts). */
  async fetch<T>(
    geo: string,
    authorization: string,
    path: string,
    hops = 1,
  ): Promise<T | undefined> {
    const base = this.urls[geo]
    if (base === undefined) return undefined
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        headers: { authorization, [HOME_READ_HEADER]: String(hops) },
        signal: AbortSignal.timeout(this.timeoutMs),
      })
    } catch (err) {
      throw new ImflowError(
        'IMF_ERR_PEER_UNAVAILABLE',
        `${this.kind} ${geo} (${base}) did not answer: ${String(err)}`,
        { cause: err },
      )
    }
    if (res.status === 403 || res.status === 404) return undefined
    const body = (await res.json().catch(() => undefined)) as (T & { detail?: string }) | undefined
    if (res.ok && body) return body
    throw new ImflowError(
      'IMF_ERR_PEER_UNAVAILABLE',
      `${this.kind} ${geo} (${base}) answered ${res.status}: ${body?.detail ?? 'no problem details'}`,
    )
  }

  summary(geo: string, authorization: string, cid: string): Promise<Summary | undefined> {
    return this.get<Summary>(geo, authorization, encodeURIComponent(cid))
  }
}

/** A conversation's state at its home geo, read page by page with the caller's token. */
class HomeLog implements ConversationLog {
  constructor(
    private readonly api: HomeApi,
    private readonly geo: string,
    private readonly authorization: string,
  ) {}

  private denied(cid: string): ImflowError {
    return new ImflowError(
      'IMF_ERR_FORBIDDEN',
      `not a member of ${cid} at its home ${this.api.kind} ${this.geo}`,
    )
  }

  async *log(cid: string, before?: Buffer): AsyncGenerator<Positioned> {
    let from = before
    for (;;) {
      const query = new URLSearchParams({ limit: String(HOME_PAGE) })
      if (from) query.set('before', from.toString('base64url'))
      const page = await this.api.get<{ entries: { position: string; message: StoredMessage }[] }>(
        this.geo,
        this.authorization,
        `${encodeURIComponent(cid)}/log?${query}`,
      )
      if (!page) throw this.denied(cid)
      for (const e of page.entries) {
        const positioned: Positioned = {
          position: Buffer.from(e.position, 'base64url'),
          message: e.message,
        }
        yield positioned
        from = positioned.position
      }
      if (page.entries.length < HOME_PAGE) return
    }
  }

  async readCursor(cid: string): Promise<string | undefined> {
    return (await this.api.summary(this.geo, this.authorization, cid))?.readCursor ?? undefined
  }

  async sequence(cid: string): Promise<{ memberCount: number; seq: number } | undefined> {
    return (await this.api.summary(this.geo, this.authorization, cid))?.sequence ?? undefined
  }

  async messagesAfter(cid: string, after: number, limit: number): Promise<StoredMessage[]> {
    const query = new URLSearchParams({
      after: String(after),
      limit: String(Math.min(limit, HOME_PAGE)),
    })
    const page = await this.api.get<{ messages: StoredMessage[] }>(
      this.geo,
      this.authorization,
      `${encodeURIComponent(cid)}/after?${query}`,
    )
    if (!page) throw this.denied(cid)
    return page.messages
  }
}

export function geoHomes(options: GeoHomesOptions): GeoHomes {
  const api = new HomeApi(options.urls, options.timeoutMs ?? 5_000, options.kind ?? 'geo')
  const cacheMs = options.cacheMs ?? 30_000
  const clock = options.clock ?? Date.now
  const found = new Map<string, { geo: string; until: number }>()
  return {
    async locate(conversationId, userId, authorization) {
      const key = `${conversationId}\u0000${userId}`
      const hit = found.get(key)
      if (hit && hit.until > clock()) return hit.geo
      for (const geo of Object.keys(options.urls)) {
        if (await api.summary(geo, authorization, conversationId)) {
          // Bounded: the oldest entry makes room (a Map iterates in insertion order).
          if (found.size >= CACHE_MAX) found.delete(found.keys().next().value as string)
          found.set(key, { geo, until: clock() + cacheMs })
          return geo
        }
      }
      found.delete(key)
      return undefined
    },
    log: (geo, authorization) => new HomeLog(api, geo, authorization),
    read: (geo, authorization, path, hops) => api.fetch(geo, authorization, path, hops),
  }
}
