// Reads of another instance's committed stores over its internal endpoint (peer-routes.ts):
// the runtime's PeerStoreClient, over HTTP. The owner's "not open here" comes back as
// IMF_ERR_NOT_READY (it is restoring, or no longer owns the task); anything else that fails
// is IMF_ERR_PEER_UNAVAILABLE.

import { errorCodes, ImflowError } from '../../ops/errors.js'
import type { KeyRange } from '../../state/index.js'
import type { PeerStoreClient, ScanPage, StoreAddress } from '../../topologies/runtime/index.js'
import { PEER_SIGNATURE_HEADER, peerKey, signPeerRequest } from './peer-auth.js'
import { PEER_PATH } from './peer-routes.js'

export interface PeerClientOptions {
  jwtSecret: string
  /** A read that takes longer fails (the API request waiting on it should not hang). */
  timeoutMs?: number
}

export function peerStoreClient(options: PeerClientOptions): PeerStoreClient {
  const key = peerKey(options.jwtSecret)
  const timeoutMs = options.timeoutMs ?? 5_000

  const read = async <T>(ownerUrl: string, address: StoreAddress, path: string): Promise<T> => {
    const pathAndQuery = `${PEER_PATH}/${encodeURIComponent(address.topology)}/${encodeURIComponent(address.store)}/${address.partition}/${path}`
    let res: Response
    try {
      res = await fetch(`${ownerUrl}${pathAndQuery}`, {
        headers: { [PEER_SIGNATURE_HEADER]: signPeerRequest(key, 'GET', pathAndQuery) },
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (err) {
      throw new ImflowError(
        'IMF_ERR_PEER_UNAVAILABLE',
        `${ownerUrl} (owner of ${address.topology} partition ${address.partition}) did not answer: ${String(err)}`,
        { cause: err },
      )
    }
    const body = (await res.json().catch(() => undefined)) as
      | (T & { code?: string; detail?: string })
      | undefined
    if (res.ok && body) return body
    if (body?.code === 'IMF_ERR_NOT_READY') {
      throw new ImflowError('IMF_ERR_NOT_READY', `${ownerUrl}: ${body.detail ?? 'not ready'}`)
    }
    const known = body?.code && body.code in errorCodes ? ` ${body.code}` : ''
    throw new ImflowError(
      'IMF_ERR_PEER_UNAVAILABLE',
      `${ownerUrl} (owner of ${address.topology} partition ${address.partition}) answered ${res.status}${known}: ${body?.detail ?? 'no problem details'}`,
    )
  }

  return {
    async get(ownerUrl, address, k) {
      const { value } = await read<{ value: string | null }>(
        ownerUrl,
        address,
        `entry?key=${k.toString('base64url')}`,
      )
      return value === null ? undefined : Buffer.from(value, 'base64url')
    },
    async scan(ownerUrl, address, range: KeyRange, limit): Promise<ScanPage> {
      const query = new URLSearchParams({ limit: String(limit) })
      if (range.gte) query.set('gte', range.gte.toString('base64url'))
      if (range.lt) query.set('lt', range.lt.toString('base64url'))
      if (range.reverse) query.set('reverse', 'true')
      const page = await read<{ entries: [string, string][]; more: boolean }>(
        ownerUrl,
        address,
        `entries?${query}`,
      )
      return {
        entries: page.entries.map(([k, v]) => [
          Buffer.from(k, 'base64url'),
          Buffer.from(v, 'base64url'),
        ]),
        more: page.more,
      }
    },
  }
}
