// A frame pushed to many sockets, encoded once: its JSON text, and the same as the bytes of a
// WebSocket text frame (RFC 6455 5.2: final, opcode 1, unmasked as a server's frames are), so
// it can go to each socket as one write instead of through ws' per-send framing.

export interface WireFrame {
  /** The frame's JSON text as UTF-8. */
  readonly payload: Buffer
  /** Header and payload: what goes on the wire. */
  readonly wire: Buffer
}

export function wireFrame(json: string): WireFrame {
  const payload = Buffer.from(json)
  const n = payload.length
  const header = n < 126 ? 2 : n < 65_536 ? 4 : 10
  const wire = Buffer.allocUnsafe(header + n)
  wire[0] = 0x81
  if (n < 126) wire[1] = n
  else if (n < 65_536) {
    wire[1] = 126
    wire.writeUInt16BE(n, 2)
  } else {
    wire[1] = 127
    wire.writeBigUInt64BE(BigInt(n), 2)
  }
  payload.copy(wire, header)
  return { payload, wire }
}
