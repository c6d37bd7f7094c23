// The receiver's hook for peak shaving (topologies/shaping): a gate asked about every valid
// message from a member, which admits it now, admits it for later delivery, or throttles it.

import type { SendMessage, ThrottleReason } from '../../schemas/types.generated.js'
import type { InputRecord, ProcessorContext } from '../runtime/index.js'

/** What peak shaving is asked about a valid message from a member. */
export interface AdmissionRequest {
  message: SendMessage
  headers: InputRecord['headers']
  /** When it was written to im.ingest (ms). */
  timestamp: number
  /** The conversation's members (0 when unknown). */
  memberCount: number
}

/** Admit now, admit for later delivery (`later`: accepted now, delivered when drained), or throttle. */
export type AdmissionDecision =
  | { admit: true; later?: boolean }
  | { admit: false; reason: ThrottleReason; retryAfterMs: number }

export interface AdmissionGate {
  admit(request: AdmissionRequest): AdmissionDecision | Promise<AdmissionDecision>
  /** Reads ahead what admit() will read for these messages (see Processor.prefetch). */
  prefetch?(requests: readonly Pick<AdmissionRequest, 'message' | 'headers'>[]): Promise<void>
  /**
   * Keeps an accepted message (its StoredMessage bytes) until it is delivered; `acceptedAt`
   * is its createdAt (its msgId's time), which its deadline runs from.
   */
  defer(id: string, stored: Buffer, acceptedAt: number): Promise<void>
}

/**
 * The hook for peak shaving (topologies/shaping): per task, a gate over the stores it
 * declares; `deliver` is how it hands a deferred message back for delivery.
 */
export interface Admission {
  stores: readonly string[]
  open(context: ProcessorContext, deliver: (stored: Buffer) => Promise<void>): AdmissionGate
}

export const admitAll: Admission = {
  stores: [],
  open: (_context, deliver) => ({
    admit: () => ({ admit: true }),
    defer: (_id, stored) => deliver(stored),
  }),
}
