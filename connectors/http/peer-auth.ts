// Authentication of reads between imflow instances: each request is signed with an HMAC of
// its method, path (with query) and time, keyed by a key derived from the JWT secret every
// instance shares. Derived, so that no bearer token (signed with the secret itself) can pass
// as an instance; timed, so that a captured request cannot be replayed for long.

import { createHmac, timingSafeEqual } from 'node:crypto'
import { ImflowError } from '../../ops/errors.js'

export const PEER_SIGNATURE_HEADER = 'x-imflow-peer-signature'
/** How far apart two instances' clocks, plus the request's transit, may be. */
const MAX_SKEW_MS = 30_000

export function peerKey(jwtSecret: string): Buffer {
  return createHmac('sha256', jwtSecret).update('imflow internal store reads v1').digest()
}

function mac(key: Buffer, method: string, pathAndQuery: string, at: number): Buffer {
  return createHmac('sha256', key)
    .update(`${at}\n${method.toUpperCase()}\n${pathAndQuery}`)
    .digest()
}

/** The header value for a request to another instance: `<ms>.<signature>`. */
export function signPeerRequest(
  key: Buffer,
  method: string,
  pathAndQuery: string,
  now = Date.now(),
): string {
  return `${now}.${mac(key, method, pathAndQuery, now).toString('base64url')}`
}

export function verifyPeerRequest(
  key: Buffer,
  header: string | undefined,
  method: string,
  pathAndQuery: string,
  now = Date.now(),
): void {
  const match = header ? /^(\d+)\.([A-Za-z0-9_-]+)$/.exec(header) : null
  if (!match) {
    throw new ImflowError('IMF_ERR_UNAUTHORIZED', `internal reads need ${PEER_SIGNATURE_HEADER}`)
  }
  const at = Number(match[1])
  if (Math.abs(now - at) > MAX_SKEW_MS) {
    throw new ImflowError(
      'IMF_ERR_UNAUTHORIZED',
      'the internal read is signed too far from now (clock skew or replay)',
    )
  }
  const expected = mac(key, method, pathAndQuery, at)
  const given = Buffer.from(match[2] as string, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ImflowError(
      'IMF_ERR_UNAUTHORIZED',
      'the internal read signature is not valid (do the instances share IMFLOW_JWT_SECRET?)',
    )
  }
}
