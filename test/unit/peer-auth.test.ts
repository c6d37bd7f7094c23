// Signed reads between instances: only a request signed with the shared secret's derived
// key, for exactly this method and path, and recently, passes.

import { describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import {
  PeerNonces,
  peerKey,
  signPeerRequest,
  verifyPeerRequest,
} from '../../connectors/http/peer-auth.js'
import { isImflowError } from '../../ops/errors.js'

const key = peerKey('the-shared-secret-0123456789')
const path = '/internal/v1/stores/receiver/messages/1/entry?key=YWJj'

function refusal(work: () => void): string {
  try {
    work()
  } catch (err) {
    if (isImflowError(err, 'IMF_ERR_UNAUTHORIZED')) return err.message
    throw err
  }
  throw new Error('expected the request to be refused')
}

describe('peer request signatures', () => {
  it('accepts a request signed for its method and path', () => {
    const now = 1_700_000_000_000
    expect(() =>
      verifyPeerRequest(key, signPeerRequest(key, 'GET', path, now), 'GET', path, now + 1_000),
    ).not.toThrow()
  })

  it('refuses another path, another secret, an old signature, a bearer token and no header', () => {
    const now = 1_700_000_000_000
    const signed = signPeerRequest(key, 'GET', path, now)
    expect(refusal(() => verifyPeerRequest(key, signed, 'GET', `${path}x`, now))).toMatch(
      /not valid/,
    )
    const other = peerKey('another-secret-0123456789')
    expect(refusal(() => verifyPeerRequest(other, signed, 'GET', path, now))).toMatch(/not valid/)
    expect(refusal(() => verifyPeerRequest(key, signed, 'GET', path, now + 60_000))).toMatch(
      /too far/,
    )
    const token = issueToken({ sub: 'root', role: 'admin' }, 'the-shared-secret-0123456789')
    expect(refusal(() => verifyPeerRequest(key, token, 'GET', path, now))).toMatch(/need/)
    expect(refusal(() => verifyPeerRequest(key, undefined, 'GET', path, now))).toMatch(/need/)
  })

  it('refuses a replay: the same signed request twice, even within its time', () => {
    const now = 1_700_000_000_000
    const nonces = new PeerNonces()
    const signed = signPeerRequest(key, 'GET', path, now)
    verifyPeerRequest(key, signed, 'GET', path, now + 10, nonces)
    expect(refusal(() => verifyPeerRequest(key, signed, 'GET', path, now + 20, nonces))).toMatch(
      /replayed/,
    )
    // Two requests signed in the same millisecond for the same path differ by their nonce.
    verifyPeerRequest(key, signPeerRequest(key, 'GET', path, now), 'GET', path, now, nonces)
    // A nonce moved to another signature does not pass either.
    const [at, nonce] = signed.split('.')
    const forged = `${at}.${nonce}x.${signed.split('.')[2]}`
    expect(refusal(() => verifyPeerRequest(key, forged, 'GET', path, now, nonces))).toMatch(
      /not valid/,
    )
  })

  it('forgets nonces once their time is out of the window, and is bounded', () => {
    const now = 1_700_000_000_000
    const nonces = new PeerNonces(2)
    expect(nonces.use('a', now, now)).toBe(true)
    expect(nonces.use('b', now, now)).toBe(true)
    // Full, and nothing old enough to forget: refused rather than grown.
    expect(nonces.use('c', now, now)).toBe(false)
    expect(nonces.use('c', now + 60_000, now + 60_000)).toBe(true)
    expect(nonces.use('c', now + 60_000, now + 60_000)).toBe(false)
  })
})
