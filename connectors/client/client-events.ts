// The events an ImflowClient emits: what an application listens to, in one place.

import type { SequencedEvent } from '../../schemas/types.generated.js'
import type { ClientConversation, ClientMessage } from './types.js'

export interface ClientEvents {
  /** A connection is up (the first, or after a reconnect). */
  open: []
  /** A connection ended; `reconnecting` says whether another follows. */
  close: [{ code: number; reason: string; reconnecting: boolean }]
  /** Events newer than the device held, applied in order. */
  events: [SequencedEvent[]]
  /** A Rebase was applied: the latest pages are held, pushes go on from headPts. */
  rebase: [headPts: number]
  /** Large groups' messages newly held (pushed, or pulled to fill a gap), in seq order. */
  messages: [ClientMessage[]]
  /** The device was too far behind in a large group: it holds its latest page now. */
  reload: [conversationId: string, headSeq: number]
  /**
   * The user's home unit changed (close 4002): the client goes on at the new home's API and
   * gateway (`url`), from PTS 0, after reloading the list and latest pages from there.
   */
  moved: [{ url: string; reason: string }]
  /** A conversation's metadata came from the API. */
  conversation: [ClientConversation]
  /** Something failed that the client works around (emitted only when listened to). */
  error: [Error]
}
