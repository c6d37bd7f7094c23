// A device that does only what the protocol asks of it (docs/sync.md, "WebSocket protocol"),
// for benchmarks of the server's side at the seeds' scale: thousands of devices must not cost
// the shared 2 cores more than the server does. It follows its large groups from the heads
// frame, takes room frames in seq order (dropping repeats) and reads each message's send time
// from its body without parsing the frame; PTS frames, rare here, are parsed and acked.
// ImflowClient (connectors/client/) does all of this and more — gaps pulled, messages stored and
// ordered — and stays the fleet's other kind (IMFLOW_BENCH_FLEET=client).

import WebSocket from 'ws'
import type { ServerFrame } from '../connectors/protocol/frames.js'

export interface LightDeviceOptions {
  url: string
  token: string
  deviceId: string
  /** Called with each new message's send time (the `@<epoch ms>` that ends its body). */
  onMessage(sentAt: number): void
}

export interface LightDevice {
  /** The large groups the last heads frame named, each with the newest seq taken. */
  readonly seqs: ReadonlyMap<string, number>
  close(): void
}

const ROOM = Buffer.from('{"type":"room"')
const CONVERSATION = Buffer.from('"conversationId":"')
const SEQ = Buffer.from('"seq":')
const BODY = Buffer.from('"body":"')

/** The decimal number at `at` in the frame (digits only, as JSON writes a safe integer). */
function numberAt(frame: Buffer, at: number): number {
  let n = 0
  for (let i = at; i < frame.length; i++) {
    const digit = (frame[i] as number) - 48
    if (digit < 0 || digit > 9) break
    n = n * 10 + digit
  }
  return n
}

/** Opens the device's connection; resolves once it is open. */
export function lightDevice(options: LightDeviceOptions): Promise<LightDevice> {
  const query = new URLSearchParams({ device: options.deviceId, lastPts: '0', class: 'DESKTOP' })
  const base = options.url.replace(/^http/, 'ws').replace(/\/+$/, '')
  const socket = new WebSocket(`${base}/v1/ws?${query}`, {
    headers: { authorization: `Bearer ${options.token}` },
    perMessageDeflate: false,
  })
  const seqs = new Map<string, number>()
  const room = (frame: Buffer) => {
    const c = frame.indexOf(CONVERSATION) + CONVERSATION.length
    const conversationId = frame.toString('utf8', c, frame.indexOf(34, c)) // up to its closing "
    const seq = numberAt(frame, frame.indexOf(SEQ) + SEQ.length)
    const taken = seqs.get(conversationId)
    // seq 0: not a message (a reaction summary, a change); a repeat: already taken.
    if (taken === undefined || seq === 0 || seq <= taken) return
    seqs.set(conversationId, seq)
    const body = frame.indexOf(BODY)
    if (body < 0) return
    const at = frame.indexOf(64, body) // '@'
    if (at > 0) options.onMessage(numberAt(frame, at + 1))
  }
  const other = (frame: ServerFrame) => {
    if (frame.type === 'heads') {
      const named = new Map(frame.conversations.map((h) => [h.conversationId, h.seq]))
      for (const cid of seqs.keys()) if (!named.has(cid)) seqs.delete(cid)
      for (const [cid, seq] of named) if (!seqs.has(cid)) seqs.set(cid, seq)
    } else if (frame.type === 'events') {
      const last = frame.events.at(-1)
      if (last) socket.send(JSON.stringify({ type: 'ack', pts: last.pts }))
    } else if (frame.type === 'rebase') {
      socket.send(JSON.stringify({ type: 'ack', pts: frame.headPts }))
    }
  }
  socket.on('message', (data: Buffer, isBinary) => {
    if (isBinary) return
    if (data.subarray(0, ROOM.length).equals(ROOM)) room(data)
    else other(JSON.parse(data.toString()) as ServerFrame)
  })
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      socket.off('error', reject)
      socket.on('error', () => {})
      resolve({ seqs, close: () => socket.close() })
    })
    socket.once('error', reject)
  })
}
