// Authentication of reads between imflow instances: each request is signed with an HMAC of
// its method, path (with query) and time, keyed by a key derived from the JWT secret every
// instance shares. Derived, so that no bearer token (signed with the secret itself) can pass
// as an instance; timed and with a one-time nonce, so that a captured request cannot be
// replayed: not later (the time), not at once (the receiving instance remembers nonces for
// as long as their time is valid).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { ImflowError } from '../../ops/errors.js'

export const PEER_SIGNATURE_HEADER = 'x-imflow-peer-signature'
/** How far apart two instances' clocks, plus the request's transit, may be. */
const MAX_SKEW_MS = 30_000

export function peerKey(jwtSecret: string): Buffer {
  return createHmac('sha256', jwtSecret).update('imflow internal store reads v1').digest()
}

function mac(key: Buffer, method: string, pathAndQuery: string, at: number, nonce: string): Buffer {
  return createHmac('sha256', key)
    .update(`${at}\n${nonce}\n${method.toUpperCase()}\n${pathAndQuery}`)
    .digest()
}

/** The header value for a request to another instance: `<ms>.<nonce>.<signature>`. */
export function signPeerRequest(
  key: Buffer,
  method: string,
  pathAndQuery: string,
  now = Date.now(),
  nonce = randomBytes(12).toString('base64url'),
): string {
  return `${now}.${nonce}.${mac(key, method, pathAndQuery, now, nonce).toString('base64url')}`
}

/**
 * The nonces of signatures accepted within the skew window: a second request with one is a
 * replay. Entries leave once their time is out of the window (then the time check refuses
 * them); bounded, so a flood of valid requests cannot grow it without end.
 */
export class PeerNonces {
  private readonly seen = new Map<string, number>()
  constructor(private readonly max = 1_000_000) {}

  /** False when the nonce was used already (or too many are remembered to tell). */
  use(nonce: string, at: number, now: number): boolean {
    if (this.seen.has(nonce)) return false
    if (this.seen.size >= this.max) this.prune(now)
    if (this.seen.size >= this.max) return false
    this.seen.set(nonce, at)
    return true
  }

  private prune(now: number): void {
    for (const [nonce, at] of this.seen)
      if (Math.abs(now - at) > MAX_SKEW_MS) this.seen.delete(nonce)
  }

  /** Drops what can no longer be replayed; the routes call it now and then. */
  sweep(now = Date.now()): void {
    this.prune(now)
  }
}

export function verifyPeerRequest(
  key: Buffer,
  header: string | undefined,
  method: string,
  pathAndQuery: string,
  now = Date.now(),
  nonces?: PeerNonces,
): void {
  const match = header ? /^(\d+)\.([A-Za-z0-9_-]{8,64})\.([A-Za-z0-9_-]+)$/.exec(header) : null
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
  const nonce = match[2] as string
  const expected = mac(key, method, pathAndQuery, at, nonce)
  const given = Buffer.from(match[3] as string, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ImflowError(
      'IMF_ERR_UNAUTHORIZED',
      'the internal read signature is not valid (do the instances share IMFLOW_JWT_SECRET?)',
    )
  }
  // Only after the signature: nobody but an instance can fill the memory of nonces.
  if (nonces && !nonces.use(nonce, at, now)) {
    throw new ImflowError(
      'IMF_ERR_UNAUTHORIZED',
      'the internal read was replayed (its nonce was used)',
    )
  }
}
