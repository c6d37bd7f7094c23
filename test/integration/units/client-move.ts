// ImflowClient follows its user's home unit (docs/units.md, "The PTS stream does not move"): ann
// is homed in unit 1 (…b.) and her client is connected to unit 1's gateway; she is moved to
// unit 0 (…a.) while connected. Unit 1's gateway closes her connection with 4002 naming unit 0's
// API; the client reloads from unit 0 and connects to unit 0's gateway from PTS 0, and the
// group's next message is pushed to it there. A client that connects to the old home after the
// move is refused there (400 naming the new home) and goes there too. Before, both stopped.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImflowClient } from '../../../connectors/client/index.js'
import { closeCodes } from '../../../connectors/protocol/frames.js'
import type { RunningApp } from '../../../ops/app/app.js'
import { eventually } from '../helpers.js'
import { acceptedText, callJson, ids, type SharedUnits, setUserHome } from '../units-support.js'

export function clientFollowsHome(units: SharedUnits): void {
  describe('units: a client follows its user’s home unit', () => {
    const { token, admin } = units
    const { ann, bob, eve, g, late } = ids('units-client-move', 'ann', 'bob', 'eve', 'g', 'late')
    let u0: RunningApp
    let u1: RunningApp
    let client: ImflowClient | undefined

    beforeAll(() => {
      ;[u0, u1] = units.apps as [RunningApp, RunningApp]
    })
    afterAll(async () => {
      await client?.close()
    })

    const setHome = (via: RunningApp, uid: string, unit: string) =>
      setUserHome([u0, u1], via, admin, uid, unit)
    const post = (cid: string, id: string) => acceptedText(u0, token(bob), cid, id)

    it('reconnects to the new home named by the 4002 close and is pushed there', {
      timeout: 90_000,
    }, async () => {
      await setHome(u0, ann, '1')
      const created = await callJson(u0, 'POST', '/v1/conversations', admin, {
        conversationId: g,
        type: 'GROUP',
        members: [ann, bob],
      })
      expect(created.status).toBe(201)

      const annClient = new ImflowClient({
        url: u1.url,
        token: token(ann),
        deviceId: 'ann-phone',
        reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
      })
      client = annClient
      const closes: { code: number; reconnecting: boolean }[] = []
      const moves: string[] = []
      const pushed: string[] = [] // NewMessage msgIds pushed, in order, after the move
      annClient.on('close', ({ code, reconnecting }) => closes.push({ code, reconnecting }))
      annClient.on('moved', ({ url }) => moves.push(url))
      annClient.on('events', (events) => {
        if (moves.length === 0) return
        for (const { event } of events)
          if (event.payload.kind === 'NewMessage') pushed.push(event.payload.message.msgId)
      })
      await annClient.connect()
      const m1 = await post(g, 'm1')
      await eventually(
        () => (annClient.messages(g).some((m) => m.msgId === m1) ? true : undefined),
        {
          what: 'm1 pushed to ann at unit 1',
        },
      )

      // Moved while connected: unit 1 closes with 4002 naming unit 0; the client goes there.
      await setHome(u1, ann, '0')
      await eventually(() => (moves.length > 0 && annClient.connected ? true : undefined), {
        what: 'the client connected again after the move',
        timeoutMs: 20_000,
      })
      expect(moves).toEqual([u0.url])
      expect(closes[0]).toEqual({ code: closeCodes.movedHome, reconnecting: true })
      const m2 = await post(g, 'm2')
      await eventually(() => (pushed.includes(m2) ? true : undefined), {
        what: 'm2 pushed to ann at unit 0',
        timeoutMs: 20_000,
      })
      // Each once, in order; nothing else closed the connection.
      expect(annClient.messages(g).map((m) => m.msgId)).toEqual([m1, m2])
      expect(pushed.filter((id) => id === m2)).toHaveLength(1)
      expect(closes).toHaveLength(1)
      expect(annClient.connected).toBe(true)
    })

    it('goes to the new home when the old one refuses it (connecting after the move)', {
      timeout: 60_000,
    }, async () => {
      await setHome(u0, eve, '1')
      const g = late
      const created = await callJson(u0, 'POST', '/v1/conversations', admin, {
        conversationId: g,
        type: 'GROUP',
        members: [eve, bob],
      })
      expect(created.status).toBe(201)
      const m1 = await post(g, 'late-1')
      await setHome(u1, eve, '0')
      // A device that still knows only unit 1 (it was offline when eve moved): refused there
      // with 400 naming unit 0, it goes to unit 0 and holds what it missed, then is pushed there.
      const eveClient = new ImflowClient({
        url: u1.url,
        token: token(eve),
        deviceId: 'eve-phone',
        reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
      })
      const moves: string[] = []
      eveClient.on('moved', ({ url }) => moves.push(url))
      try {
        await eveClient.connect()
        expect(moves).toEqual([u0.url])
        await eventually(
          () => (eveClient.messages(g).some((m) => m.msgId === m1) ? true : undefined),
          {
            what: 'late-1 reloaded from unit 0',
          },
        )
        const m2 = await post(g, 'late-2')
        await eventually(
          () =>
            eveClient
              .messages(g)
              .map((m) => m.msgId)
              .join() === [m1, m2].join()
              ? true
              : undefined,
          { what: 'late-2 pushed to eve at unit 0' },
        )
        expect(eveClient.connected).toBe(true)
      } finally {
        await eveClient.close()
      }
    })
  })
}
