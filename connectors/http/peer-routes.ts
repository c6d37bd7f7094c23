// The internal read endpoint: other instances read this instance's committed stores here,
// for API requests whose keys live in tasks this instance owns. Only tasks open here answer
// (never forwarded again, so a stale owner map cannot loop); signed requests only
// (peer-auth.ts). Keys and values travel as base64url.

import type { FastifyPluginAsync } from 'fastify'
import { ImflowError } from '../../ops/errors.js'
import type { KeyRange } from '../../state/index.js'
import type { RunningTopology } from '../../topologies/runtime/index.js'
import { PEER_SIGNATURE_HEADER, PeerNonces, peerKey, verifyPeerRequest } from './peer-auth.js'

export const PEER_PATH = '/internal/v1/stores'
/** The largest scan page one request returns. */
export const MAX_PAGE = 1_000

export interface PeerRouteOptions {
  jwtSecret: string
  topologies: readonly Pick<RunningTopology, 'name' | 'committedStore'>[]
}

interface StoreParams {
  topology: string
  store: string
  partition: number
}

const params = {
  type: 'object',
  required: ['topology', 'store', 'partition'],
  properties: {
    topology: { type: 'string', minLength: 1, maxLength: 256 },
    store: { type: 'string', minLength: 1, maxLength: 256 },
    partition: { type: 'integer', minimum: 0 },
  },
} as const
const bytes = { type: 'string', pattern: '^[A-Za-z0-9_-]*$', maxLength: 8_192 } as const

export const peerRoutes: FastifyPluginAsync<PeerRouteOptions> = async (app, options) => {
  const key = peerKey(options.jwtSecret)
  const byName = new Map(options.topologies.map((t) => [t.name, t]))
  const nonces = new PeerNonces()
  const sweep = setInterval(() => nonces.sweep(), 60_000)
  sweep.unref()
  app.addHook('onClose', async () => clearInterval(sweep))
  app.addHook('onRequest', async (request) => {
    verifyPeerRequest(
      key,
      request.headers[PEER_SIGNATURE_HEADER] as string | undefined,
      request.method,
      request.url,
      Date.now(),
      nonces,
    )
  })

  const committed = ({ topology, store, partition }: StoreParams) => {
    const running = byName.get(topology)
    if (!running) throw new ImflowError('IMF_ERR_NOT_FOUND', `no topology ${topology} here`)
    const found = running.committedStore(partition, store)
    if (!found) {
      throw new ImflowError(
        'IMF_ERR_NOT_READY',
        `${topology}: partition ${partition} is not open on this instance right now`,
      )
    }
    return found
  }

  app.get<{ Params: StoreParams; Querystring: { key: string } }>(
    `${PEER_PATH}/:topology/:store/:partition/entry`,
    {
      schema: {
        params,
        querystring: {
          type: 'object',
          required: ['key'],
          additionalProperties: false,
          properties: { key: bytes },
        },
      },
    },
    async (request) => {
      const value = await committed(request.params).get(Buffer.from(request.query.key, 'base64url'))
      return { value: value === undefined ? null : value.toString('base64url') }
    },
  )

  app.get<{
    Params: StoreParams
    Querystring: { gte?: string; lt?: string; reverse?: boolean; limit: number }
  }>(
    `${PEER_PATH}/:topology/:store/:partition/entries`,
    {
      schema: {
        params,
        querystring: {
          type: 'object',
          required: ['limit'],
          additionalProperties: false,
          properties: {
            gte: bytes,
            lt: bytes,
            reverse: { type: 'boolean' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE },
          },
        },
      },
    },
    async (request) => {
      const { gte, lt, reverse, limit } = request.query
      const range: KeyRange = {
        ...(gte === undefined ? {} : { gte: Buffer.from(gte, 'base64url') }),
        ...(lt === undefined ? {} : { lt: Buffer.from(lt, 'base64url') }),
        ...(reverse ? { reverse: true } : {}),
      }
      const entries: [string, string][] = []
      let more = false
      for await (const [k, v] of committed(request.params).range(range)) {
        // One past the page tells whether more follow; the iterator closes on break.
        if (entries.length === limit) {
          more = true
          break
        }
        entries.push([k.toString('base64url'), v.toString('base64url')])
      }
      return { entries, more }
    },
  )
}
