import { describe, expect, it } from 'vitest'
import { issueToken, verifyToken } from '../../connectors/http/jwt.js'

const secret = 'a-test-secret-of-32-characters!!'

describe('HS256 tokens', () => {
  it('verify what was issued, claims intact', () => {
    const token = issueToken({ sub: 'alice', role: 'admin', exp: 2_000_000_000 }, secret)
    expect(verifyToken(token, secret)).toMatchObject({ sub: 'alice', role: 'admin' })
  })

  it('refuse another secret, a tampered payload, an expired or not-yet-valid token, no subject', () => {
    const token = issueToken({ sub: 'alice' }, secret)
    const code = (fn: () => unknown) => {
      try {
        fn()
      } catch (err) {
        return [(err as { code?: string }).code, (err as Error).message]
      }
      return ['accepted']
    }
    expect(code(() => verifyToken(token, 'another-secret-entirely-000000'))).toEqual([
      'IMF_ERR_UNAUTHORIZED',
      'the token signature is not valid',
    ])
    const [h, , s] = token.split('.')
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'root', role: 'admin' })).toString('base64url')}.${s}`
    expect(code(() => verifyToken(forged, secret))[1]).toBe('the token signature is not valid')
    expect(code(() => verifyToken(issueToken({ sub: 'a', exp: 1 }, secret), secret))[1]).toBe(
      'the token has expired',
    )
    expect(
      code(() => verifyToken(issueToken({ sub: 'a', nbf: 4_000_000_000 }, secret), secret))[1],
    ).toBe('the token is not valid yet')
    expect(code(() => verifyToken(issueToken({ sub: '' }, secret), secret))[1]).toBe(
      'the token has no subject (sub)',
    )
    expect(code(() => verifyToken('not.a.jwt', secret))[0]).toBe('IMF_ERR_UNAUTHORIZED')
  })

  it('refuse any algorithm but HS256 (no "none")', () => {
    const head = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')
    const body = Buffer.from(JSON.stringify({ sub: 'alice' })).toString('base64url')
    expect(() => verifyToken(`${head}.${body}.`, secret)).toThrow(
      'the token must be signed with HS256',
    )
  })
})
