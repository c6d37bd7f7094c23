// HS256 JSON Web Tokens: verified with node:crypto (constant-time comparison), issued for
// tests and tools. Only what imflow needs: `sub` (the user), `role`, `exp`, `nbf`.

import { createHmac, timingSafeEqual } from 'node:crypto'
import { ImflowError } from '../../ops/errors.js'

export interface Claims {
  sub: string
  role?: string
  exp?: number
  nbf?: number
  [claim: string]: unknown
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

function sign(input: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(input).digest()
}

export function issueToken(claims: Claims, secret: string): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
  const body = b64url(JSON.stringify(claims))
  return `${head}.${body}.${b64url(sign(`${head}.${body}`, secret))}`
}

const unauthorized = (why: string) => new ImflowError('IMF_ERR_UNAUTHORIZED', why)

export function verifyToken(token: string, secret: string, nowMs = Date.now()): Claims {
  const parts = token.split('.')
  if (parts.length !== 3) throw unauthorized('the bearer token is not a JWT')
  const [head, body, signature] = parts as [string, string, string]
  let header: { alg?: unknown }
  let claims: Claims
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString())
    claims = JSON.parse(Buffer.from(body, 'base64url').toString())
  } catch {
    throw unauthorized('the bearer token is not a JWT')
  }
  if (header.alg !== 'HS256') throw unauthorized('the token must be signed with HS256')
  const expected = sign(`${head}.${body}`, secret)
  const given = Buffer.from(signature, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw unauthorized('the token signature is not valid')
  }
  const now = nowMs / 1000
  if (typeof claims.exp === 'number' && now >= claims.exp)
    throw unauthorized('the token has expired')
  if (typeof claims.nbf === 'number' && now < claims.nbf)
    throw unauthorized('the token is not valid yet')
  if (typeof claims.sub !== 'string' || claims.sub === '')
    throw unauthorized('the token has no subject (sub)')
  return claims
}
