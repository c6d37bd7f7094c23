// A frame encoded once for many sockets is a valid WebSocket text frame: ws' own parser (what
// ImflowClient and Node devices run) reads back the same text, at each length encoding.

import { describe, expect, it } from 'vitest'
import * as ws from 'ws'
import { wireFrame } from '../../connectors/push-gateway/wire-frame.js'

/** ws' frame parser: exported by the package, not declared by @types/ws. */
interface FrameParser {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void
  on(event: 'error', listener: (err: Error) => void): void
  write(bytes: Buffer, done: () => void): void
}
const { Receiver } = ws as unknown as { Receiver: new (o: { isServer: boolean }) => FrameParser }

/** What ws' client-side parser makes of the bytes. */
function parse(bytes: Buffer): Promise<string[]> {
  const receiver = new Receiver({ isServer: false })
  const texts: string[] = []
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    expect(isBinary).toBe(false)
    texts.push(data.toString())
  })
  return new Promise((resolve, reject) => {
    receiver.on('error', reject)
    receiver.write(bytes, () => resolve(texts))
  })
}

describe('wireFrame', () => {
  it.each([0, 5, 125, 126, 300, 65_535, 65_536, 200_000])(
    'encodes a %i-byte JSON text as one frame ws reads back',
    async (size) => {
      const json = JSON.stringify({ body: 'é'.repeat(size) }).slice(0, size)
      const frame = wireFrame(json)
      expect(frame.payload.toString()).toBe(json)
      expect(await parse(frame.wire)).toEqual([json])
    },
  )

  it('frames written back to back are read as separate messages, in order', async () => {
    const texts = ['{"a":1}', 'x'.repeat(1_000), '{"b":2}']
    expect(await parse(Buffer.concat(texts.map((t) => wireFrame(t).wire)))).toEqual(texts)
  })
})
