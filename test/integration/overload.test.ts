// Overload on a running imflow: requests that hold on (uploads that never finish) fill the
// in-flight bound, and a stalled event loop; either way the next request is answered at once
// with 503 IMF_ERR_OVERLOADED and Retry-After — never left hanging —, /readyz says why, and
// the API serves again once the load is gone.

import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'overload-test-secret-0123456789'

describe('overload', () => {
  let app: RunningApp
  let stop: () => Promise<void>
  const ann = issueToken({ sub: 'ann' }, secret)

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(`${unique('ovl')}.`, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_MAX_IN_FLIGHT: '3',
      IMFLOW_MAX_EVENT_LOOP_LAG_MS: '700',
    }))
  })
  afterAll(() => stop?.())

  const readyz = async () => {
    const res = await fetch(`${app.url}/readyz`)
    return {
      status: res.status,
      body: (await res.json()) as { checks: Record<string, { ok: boolean; detail?: string }> },
    }
  }

  it('sheds requests past the in-flight bound at once, and serves again when they finish', async () => {
    await eventually(async () => ((await readyz()).status === 200 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'imflow to be ready',
    })
    // Three uploads that never finish: in flight until their sockets close.
    const url = new URL(`${app.url}/v1/messages`)
    const hanging = Array.from({ length: 3 }, () => {
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${ann}`,
          'content-type': 'application/json',
          'content-length': '1000',
        },
      })
      req.on('error', () => {})
      req.write('{"conversationId":')
      return req
    })
    try {
      await eventually(
        async () => {
          const started = Date.now()
          const res = await httpCall(app.url, 'GET', '/v1/conversations', ann)
          if (res.status !== 503) return undefined
          return {
            res,
            ms: Date.now() - started,
            body: (await res.json()) as Record<string, unknown>,
          }
        },
        { what: 'a request to be shed' },
      ).then(({ res, ms, body }) => {
        expect(res.headers.get('retry-after')).toBe('1')
        expect(body).toMatchObject({ code: 'IMF_ERR_OVERLOADED', retryAfterMs: 1_000 })
        expect(String(body.detail)).toMatch(/in flight/)
        // Answered, not queued: well within the 10 s a receipt may take.
        expect(ms).toBeLessThan(5_000)
      })
      const ready = await readyz()
      expect(ready.status).toBe(503)
      expect(ready.body.checks.load?.ok).toBe(false)
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
    } finally {
      for (const req of hanging) req.destroy()
    }
    await eventually(
      async () =>
        (await httpCall(app.url, 'GET', '/v1/conversations', ann)).status === 200
          ? true
          : undefined,
      { what: 'the API to serve again' },
    )
    expect((await readyz()).body.checks.load).toEqual({ ok: true })
  })

  it('sheds while the event loop has stalled, and tells /readyz', async () => {
    // imflow runs in this process: a busy loop here stalls its event loop.
    const until = Date.now() + 1_500
    while (Date.now() < until) {}
    const res = await httpCall(app.url, 'GET', '/v1/conversations', ann)
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(((await res.json()) as { detail: string }).detail).toMatch(/event loop stalled/)
    expect((await readyz()).body.checks.load?.detail).toMatch(/event loop stalled/)
    // The stall leaves the window (two seconds) and the API serves again.
    await eventually(
      async () =>
        (await httpCall(app.url, 'GET', '/v1/conversations', ann)).status === 200
          ? true
          : undefined,
      { what: 'the API to serve again after the stall' },
    )
  })
})
