// The client's own error codes are the server catalogue's, with the same meaning, and an API
// problem's code reaches the caller as it came.

import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import { fetchHttp } from '../../connectors/client/index.js'
import {
  type ClientErrorCode,
  ImflowClientError,
  isImflowClientError,
} from '../../connectors/protocol/client-errors.js'
import { errorCodes } from '../../ops/errors.js'

const clientCodes: Record<ClientErrorCode, true> = {
  IMF_ERR_API_UNAVAILABLE: true,
  IMF_ERR_UNAUTHORIZED: true,
  IMF_ERR_BAD_REQUEST: true,
  IMF_ERR_CONFIG: true,
  IMF_ERR_USAGE: true,
  IMF_ERR_CLIENT_CLOSED: true,
}

describe('client errors', () => {
  it('raises only codes of the catalogue, retriable as the catalogue says', () => {
    for (const code of Object.keys(clientCodes) as ClientErrorCode[]) {
      expect(errorCodes).toHaveProperty(code)
      expect(new ImflowClientError(code, 'x').retriable).toBe(errorCodes[code].retriable)
    }
  })

  it('passes an API problem through with its code, retriable flag and particulars', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/problem+json' })
      res.end(
        JSON.stringify({
          code: 'IMF_ERR_THROTTLED',
          detail: 'slow down',
          retriable: true,
          retryAfterMs: 250,
        }),
      )
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const { port } = server.address() as { port: number }
      const http = fetchHttp(`http://127.0.0.1:${port}`, () => 't')
      const err = await http.conversations().catch((e: unknown) => e)
      expect(isImflowClientError(err, 'IMF_ERR_THROTTLED')).toBe(true)
      expect(err).toMatchObject({ retriable: true, message: 'slow down' })
      expect((err as ImflowClientError).details).toEqual({ retryAfterMs: 250 })
    } finally {
      server.close()
    }
  })
})
