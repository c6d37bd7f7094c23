// The WebSocket a device logs in with (GET /v1/ws: its device, last PTS and class), and what
// the gateway answered when it refused the upgrade: a 401, or a 400 whose problem detail may
// name the user's new home (movedHomeReason), which the close decision reads.

import WebSocket from 'ws'
import type { DeviceClass } from '../../schemas/types.generated.js'

export interface GatewayLogin {
  deviceId: string
  lastPts: number
  deviceClass: DeviceClass
}

export interface Refusal {
  status: number
  /** The problem detail ('' until the body has arrived, or when it could not be read). */
  detail: string
}

/** The detail of a problem+json body; the text itself when it is not one. */
function problemDetail(body: string): string {
  try {
    const detail = (JSON.parse(body) as { detail?: unknown }).detail
    return typeof detail === 'string' ? detail : body
  } catch {
    return body
  }
}

/** Opens the socket; `refusal()` says, once it closed, whether the gateway refused it. */
export function openGatewaySocket(
  gatewayUrl: string,
  token: string,
  { deviceId, lastPts, deviceClass }: GatewayLogin,
): { socket: WebSocket; refusal(): Refusal | undefined } {
  const base = gatewayUrl.replace(/^http/, 'ws').replace(/\/+$/, '')
  const query = new URLSearchParams({
    device: deviceId,
    lastPts: String(lastPts),
    class: deviceClass,
  })
  const socket = new WebSocket(`${base}/v1/ws?${query}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  let refused: number | undefined
  let detail = ''
  socket.on('unexpected-response', (_request, response) => {
    refused = response.statusCode
    const chunks: Buffer[] = []
    response.on('data', (chunk: Buffer) => chunks.push(chunk))
    response.on('error', () => socket.terminate())
    response.on('end', () => {
      detail = problemDetail(Buffer.concat(chunks).toString())
      socket.terminate()
    })
  })
  return {
    socket,
    refusal: () => (refused === undefined ? undefined : { status: refused, detail }),
  }
}
