// A schema registry that reads a request and never answers it (seen from Apicurio under a
// loaded test suite): the call is sent again after its timeout, and once every try has timed
// out it fails with a coded error instead of leaving the codec waiting for ever.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { registrySchemaSource } from '../../schemas/schema-source.js'

const schema = { type: 'record', name: 'Probe', fields: [{ name: 'a', type: 'string' }] }

/** A registry answering like Confluent's API, except that it ignores the first `unanswered` requests. */
async function registry(unanswered: number) {
  const seen: string[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`)
    req.resume()
    if (seen.length <= unanswered) return
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'GET' && req.url?.startsWith('/config/'))
      return json(404, { error_code: 40408, message: 'no config' })
    if (req.method === 'PUT') return json(200, { compatibility: 'BACKWARD' })
    if (req.method === 'POST') return json(200, { id: 42 })
    if (req.url === '/schemas/ids/42') return json(200, { schema: JSON.stringify(schema) })
    json(404, { error_code: 40403, message: 'not found' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const close = () => {
    server.closeAllConnections()
    server.close()
  }
  return { url, seen, close }
}

describe('the schema registry client', () => {
  let close = () => {}
  afterEach(() => close())

  it('sends a call again when a request goes unanswered, and then succeeds', async () => {
    const fake = await registry(1)
    close = fake.close
    const source = registrySchemaSource(fake.url, { requestTimeoutMs: 200 })
    expect(await source.register('probe-value', schema)).toBe(42)
    expect(await source.schemaById(42)).toEqual(schema)
    // The first request was left unanswered and sent again.
    expect(fake.seen.slice(0, 2)).toEqual(['GET /config/probe-value', 'GET /config/probe-value'])
  })

  it('fails with IMF_ERR_REGISTRY_UNAVAILABLE once every try has timed out', async () => {
    const fake = await registry(Number.POSITIVE_INFINITY)
    close = fake.close
    const source = registrySchemaSource(fake.url, { requestTimeoutMs: 100, timeoutRetries: 2 })
    const started = Date.now()
    await expect(source.schemaById(7)).rejects.toMatchObject({
      code: 'IMF_ERR_REGISTRY_UNAVAILABLE',
    })
    expect(fake.seen).toEqual(['GET /schemas/ids/7', 'GET /schemas/ids/7', 'GET /schemas/ids/7'])
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})
