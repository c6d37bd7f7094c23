// The push gateway's WebSocket under bad frames, on a running imflow: random frames (a
// property) either pass as acks or close the connection with a protocol close code, never
// the server; a frame over the size bound closes with 1009; a flood of acks far ahead of the
// head neither closes the connection nor moves the device past what it holds: the next
// message still reaches it.

import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { issueToken } from '../../connectors/http/jwt.js'
import { closeCodes } from '../../connectors/protocol/frames.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'ws-fuzz-secret-0123456789abcdef'

describe('the WebSocket under bad frames', () => {
  let app: RunningApp
  let stop: () => Promise<void>
  const token = (user: string) => issueToken({ sub: user }, secret)

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(`${unique('wsf')}.`, { IMFLOW_JWT_SECRET: secret }))
  })
  afterAll(() => stop?.())

  const connect = async (user: string, device: string) => {
    const url = `${app.url.replace(/^http/, 'ws')}/v1/ws?${new URLSearchParams({ device, class: 'WEB' })}`
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token(user)}` } })
    const frames: string[] = []
    socket.on('message', (d) => frames.push(String(d)))
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)))
    socket.on('error', () => {})
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    return { socket, frames, closed }
  }

  it('closes on a bad frame with a protocol code, and on a huge one with 1009', {
    timeout: 180_000,
  }, async () => {
    const frame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .record({
          type: fc.constantFrom('ack', 'ping', ''),
          pts: fc.oneof(fc.integer(), fc.double(), fc.string()),
        })
        .map((v) => JSON.stringify(v)),
    )
    await fc.assert(
      fc.asyncProperty(frame, async (text) => {
        const device = await connect('ann', `fuzz-${unique('d')}`)
        device.socket.send(text)
        // An ack the gateway takes leaves the socket open: close it ourselves after a moment.
        const timer = setTimeout(() => device.socket.close(1000), 300)
        const code = await device.closed
        clearTimeout(timer)
        expect([1000, 1005, closeCodes.badFrame], text).toContain(code)
      }),
      { numRuns: 40 },
    )
    const huge = await connect('ann', 'huge')
    huge.socket.send(JSON.stringify({ type: 'ack', pts: 1, pad: 'x'.repeat(10_000) }))
    expect(await huge.closed).toBe(1009)
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
  })

  it('keeps a device that floods acks ahead of its head connected and served', {
    timeout: 180_000,
  }, async () => {
    const admin = issueToken({ sub: 'root', role: 'admin' }, secret)
    expect(
      (
        await httpCall(app.url, 'POST', '/v1/conversations', admin, {
          conversationId: 'flood',
          type: 'GROUP',
          members: ['ben', 'ann'],
        })
      ).status,
    ).toBeLessThan(300)
    const phone = await connect('ann', 'phone')
    for (let i = 0; i < 5_000; i++)
      phone.socket.send(JSON.stringify({ type: 'ack', pts: 1_000_000_000 + i }))
    await eventually(
      async () => {
        const res = await httpCall(app.url, 'POST', '/v1/messages', token('ben'), {
          conversationId: 'flood',
          clientMsgId: 'after-the-flood',
          type: 'TEXT',
          body: 'still reaches ann',
        })
        return res.status === 200 ? true : undefined
      },
      { timeoutMs: 60_000, what: 'the message to be accepted' },
    )
    await eventually(
      () => (phone.frames.some((f) => f.includes('still reaches ann')) ? true : undefined),
      {
        timeoutMs: 60_000,
        what: 'the push after the flood',
      },
    )
    expect(phone.socket.readyState).toBe(WebSocket.OPEN)
    phone.socket.close()
  })
})
