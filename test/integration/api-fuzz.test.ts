// The API under random input (a property over methods, routes, bodies, content types and
// tokens): every refusal is a problem document naming a stable code — a 5xx only for a
// retriable one —, never a crash, a hang or an unexplained 500; the process serves on after.

import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { errorCodes } from '../../ops/errors.js'
import { startTestApp, unique } from './helpers.js'

const secret = 'api-fuzz-secret-0123456789abcdef'

describe('the API under random input', () => {
  let app: RunningApp
  let stop: () => Promise<void>

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(`${unique('fuzz')}.`, { IMFLOW_JWT_SECRET: secret }))
  })
  afterAll(() => stop?.())

  it('answers every request with a coded problem or a success, never a 500', {
    timeout: 300_000,
  }, async () => {
    const routes = [
      ['POST', '/v1/messages'],
      ['GET', '/v1/conversations'],
      ['POST', '/v1/conversations'],
      ['GET', '/v1/conversations/team'],
      ['GET', '/v1/conversations/team/messages'],
      ['POST', '/v1/conversations/team/read'],
      ['POST', '/v1/conversations/team/members'],
      ['PATCH', '/v1/conversations/team'],
      ['DELETE', '/v1/conversations/team/messages/123'],
      ['POST', '/v1/conversations/team/messages/123/reactions'],
      ['GET', '/v1/conversations/team/messages/123/reads'],
      ['PUT', '/v1/users/ann'],
      ['GET', '/v1/sync'],
      ['PUT', '/v1/limits'],
      ['GET', '/internal/v1/stores/receiver/conversations/0/entry'],
    ] as const
    const tokens = fc.oneof(
      fc.constant(undefined),
      fc.constant(issueToken({ sub: 'ann' }, secret)),
      fc.constant(issueToken({ sub: 'root', role: 'admin' }, secret)),
      fc.string({ maxLength: 200 }),
    )
    const bodies = fc.oneof(
      fc.constant(undefined),
      fc.json({ maxDepth: 3 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .record({
          conversationId: fc.string({ maxLength: 300 }),
          clientMsgId: fc.string({ maxLength: 300 }),
          type: fc.constantFrom('TEXT', 'IMAGE', 'nope', ''),
          body: fc.string({ maxLength: 2_000 }),
          members: fc.array(fc.string({ maxLength: 20 }), { maxLength: 5 }),
          emoji: fc.string({ maxLength: 30 }),
          op: fc.constantFrom('add', 'remove', 'x'),
          geo: fc.string({ maxLength: 20 }),
        })
        .map((v) => JSON.stringify(v)),
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b).toString('latin1')),
    )
    const query = fc.oneof(
      fc.constant(''),
      fc
        .dictionary(
          fc.constantFrom('device', 'after', 'limit', 'before', 'key', 'x'),
          fc.string({ maxLength: 30 }),
        )
        .map((d) => `?${new URLSearchParams(d)}`),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        query,
        tokens,
        bodies,
        fc.constantFrom(
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded',
          undefined,
        ),
        async ([method, path], q, token, body, contentType) => {
          const headers: Record<string, string> = {}
          if (token !== undefined) headers.authorization = `Bearer ${token}`
          if (contentType && body !== undefined) headers['content-type'] = contentType
          const res = await fetch(`${app.url}${path}${q}`, {
            method,
            headers,
            ...(body !== undefined && method !== 'GET' ? { body } : {}),
            signal: AbortSignal.timeout(20_000),
          })
          const text = await res.text()
          const what = `${method} ${path}${q}: ${text}`
          expect(res.status, what).not.toBe(500)
          if (res.status >= 400) {
            expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/)
            const code = (JSON.parse(text) as { code: keyof typeof errorCodes }).code
            expect(Object.keys(errorCodes)).toContain(code)
            // 5xx only for what may pass on its own (a store not served yet, a receipt late).
            if (res.status >= 500) expect(errorCodes[code].retriable, what).toBe(true)
          }
        },
      ),
      { numRuns: 250 },
    )
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
  })
})
