// What the client does when its socket to the gateway closes: a replacing connection, a refused
// token or request and close() stop it; a move that names the new home's API (closed 4002, or
// refused 400 by the old home) is followed; any other drop is reconnected.

import { describe, expect, it } from 'vitest'
import { type ClosedSocket, closeOutcome } from '../../connectors/client/close-outcome.js'
import { ImflowClientError } from '../../connectors/protocol/client-errors.js'
import { closeCodes, movedHomeReason } from '../../connectors/protocol/frames.js'

const moved = movedHomeReason('ann', 'eu-2', 'http://eu-2.example:8080')
const movedNowhere = movedHomeReason('ann', 'eu-2', undefined)

/** ws closes a refused socket with 1006: no close frame came. */
const refusedWith = (status: number, detail = ''): ClosedSocket => ({
  code: 1006,
  reason: '',
  refused: { status, detail },
  closing: false,
})

const closedWith = (code: number, reason = ''): ClosedSocket => ({ code, reason, closing: false })

describe('closeOutcome', () => {
  it('stops when a newer connection of the device replaced this one', () => {
    expect(closeOutcome(closedWith(closeCodes.replaced, 'replaced'))).toEqual({ kind: 'final' })
  })

  it('follows a move to the API its reason names, and stops at one that names none', () => {
    expect(closeOutcome(closedWith(closeCodes.movedHome, moved))).toEqual({
      kind: 'follow',
      url: 'http://eu-2.example:8080',
    })
    expect(closeOutcome(closedWith(closeCodes.movedHome, movedNowhere))).toEqual({
      kind: 'final',
    })
  })

  it('stops at a refused token, with the error a first connect() rejects with', () => {
    const outcome = closeOutcome(refusedWith(401, 'the token expired'))
    expect(outcome).toEqual({ kind: 'final', error: expect.any(ImflowClientError) })
    const error = outcome.kind === 'final' ? outcome.error : undefined
    expect(error?.code).toBe('IMF_ERR_UNAUTHORIZED')
    expect(error?.message).toBe('the push gateway refused the connection (401)')
  })

  it('follows a 400 whose refusal names the new home, and stops at any other 400', () => {
    expect(closeOutcome(refusedWith(400, moved))).toEqual({
      kind: 'follow',
      url: 'http://eu-2.example:8080',
    })
    for (const detail of [movedNowhere, 'lastPts must be a number', '']) {
      const outcome = closeOutcome(refusedWith(400, detail))
      expect(outcome.kind).toBe('final')
      const error = outcome.kind === 'final' ? outcome.error : undefined
      expect(error?.code).toBe('IMF_ERR_BAD_REQUEST')
      expect(error?.message).toBe('the push gateway refused the connection (400)')
    }
  })

  it('stops once close() was called, whatever the close says', () => {
    const closing = (socket: ClosedSocket): ClosedSocket => ({ ...socket, closing: true })
    expect(closeOutcome(closing(closedWith(1000, 'client closed')))).toEqual({ kind: 'final' })
    expect(closeOutcome(closing(closedWith(1006)))).toEqual({ kind: 'final' })
    expect(closeOutcome(closing(closedWith(closeCodes.movedHome, moved)))).toEqual({
      kind: 'final',
    })
    // A refusal still carries its error (close() rejects a waiting connect() first anyway).
    const refused = closeOutcome(closing(refusedWith(400, moved)))
    expect(refused.kind === 'final' && refused.error?.code).toBe('IMF_ERR_BAD_REQUEST')
  })

  it('reconnects after an ordinary drop, a stopping gateway or a refusal that may pass', () => {
    for (const socket of [
      closedWith(1006),
      closedWith(closeCodes.goingAway, 'shutting down'),
      closedWith(closeCodes.internalError),
      closedWith(closeCodes.badFrame),
      refusedWith(503, 'overloaded'),
      refusedWith(404),
    ]) {
      expect(closeOutcome(socket)).toEqual({ kind: 'reconnect' })
    }
  })
})
