// What an ImflowClient is given: where the API and gateway are, who the device is, what it
// holds already, and how it paces pulls, reconnects and read receipts.

import type { DeviceClass } from '../../schemas/types.generated.js'
import type { ImflowHttp, TokenSource } from './http-api.js'

export interface ImflowClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:8080. */
  url: string
  /** The push gateway's base URL (http, https, ws or wss) when it is not the API's. */
  gatewayUrl?: string
  /** The user's JWT, or a function giving a fresh one for each connection and call. */
  token: string | TokenSource
  /** The token's subject; needed only when `token` is a function. */
  userId?: string
  deviceId: string
  deviceClass?: DeviceClass
  /** The newest PTS the device holds (0 for a new device). */
  lastPts?: number
  /** The newest seq it holds of each large group (`seqs()` of its last run). */
  seqs?: Record<string, number>
  /** The API calls; by default over fetch to `url`. */
  http?: ImflowHttp
  /** Messages pulled per conversation after a Rebase (default 50; the API allows 200). */
  pageSize?: number
  /** Reconnection delays double from initialDelayMs up to maxDelayMs (250 ms, 10 s). */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number }
  /** markRead() sends at most one receipt per conversation per this long (default 300 ms). */
  readMergeMs?: number
}
