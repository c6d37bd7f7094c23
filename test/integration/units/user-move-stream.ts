// A user's PTS stream after her home unit moves (docs/units.md, "The PTS stream does not
// move"): kim, homed in unit 1 (…b.), is sent three messages in a group homed in unit 0 (…a.),
// which unit 1 sequences and pushes to her phone there; then she moves to unit 0. Her stream
// goes on at unit 0 from 0, and unit 1 ends the one it kept: none of her events is left there,
// nothing for her is sequenced or pushed there after the move, and a phone of hers at unit 1
// is refused. Before, unit 1 kept her old stream and devices for ever.

import { beforeAll, describe, expect, it } from 'vitest'
import { HOME_READ_HEADER as HOME_READ } from '../../../connectors/http/home-routes.js'
import type { RunningApp } from '../../../ops/app/app.js'
import type { SequencedEvent } from '../../../schemas/types.generated.js'
import { eventually } from '../helpers.js'
import {
  acceptedText,
  callJson,
  deviceSocket,
  ids,
  type SharedUnits,
  setUserHome,
} from '../units-support.js'

type Stream = { headPts: number; events: SequencedEvent[] }

export function streamEndsAtOldHome(units: SharedUnits): void {
  describe('units: the PTS stream a moved user leaves at her old home unit', () => {
    const { token, admin } = units
    const { ann, kim, g } = ids('units-move-stream', 'ann', 'kim', 'g')
    let u0: RunningApp
    let u1: RunningApp
    beforeAll(() => {
      ;[u0, u1] = units.apps as [RunningApp, RunningApp]
    })

    /** kim's stream as `app` keeps it itself (not asked on at her home). */
    const kept = async (app: RunningApp) => {
      const res = await fetch(`${app.url}/v1/sync?after=0&limit=1000`, {
        headers: { authorization: `Bearer ${token(kim)}`, [HOME_READ]: '1' },
      })
      expect(res.status).toBe(200)
      return (await res.json()) as Stream
    }
    const messages = (stream: Stream) =>
      stream.events.flatMap((e) =>
        e.event.payload.kind === 'NewMessage' ? [e.event.payload.message.msgId] : [],
      )

    it('ends there: nothing of hers kept, sequenced or pushed after the move', {
      timeout: 90_000,
    }, async () => {
      await setUserHome(units.apps, u0, admin, kim, '1')
      const created = await callJson(u0, 'POST', '/v1/conversations', admin, {
        conversationId: g,
        type: 'GROUP',
        members: [ann, kim],
      })
      expect(created.status).toBe(201)
      // Her phone at unit 1, pushed the three messages and acking them.
      const phone = deviceSocket(u1, kim, token(kim))
      const pushed: string[] = []
      phone.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string; events?: SequencedEvent[] }
        if (frame.type !== 'events' || !frame.events) return
        for (const e of frame.events)
          if (e.event.payload.kind === 'NewMessage') pushed.push(e.event.payload.message.msgId)
        const last = frame.events.at(-1)
        if (last) phone.send(JSON.stringify({ type: 'ack', pts: last.pts }))
      })
      const closed = new Promise<number>((resolve) => phone.once('close', resolve))
      await new Promise((resolve, reject) => phone.once('open', resolve).once('error', reject))
      const sent: string[] = []
      for (let n = 1; n <= 3; n++) sent.push(await acceptedText(u0, token(ann), g, `${g}-${n}`))
      await eventually(() => (pushed.length === 3 ? true : undefined), {
        what: "kim's three messages pushed at unit 1",
      })
      expect(pushed).toEqual(sent)
      expect(messages(await kept(u1))).toEqual(sent)

      await setUserHome(units.apps, u1, admin, kim, '0')
      expect(await closed).toBe(4002)
      // Unit 1 keeps nothing of her stream now; the next message is sequenced at unit 0 only.
      await eventually(
        async () => {
          const old = await kept(u1)
          return old.headPts === 0 && old.events.length === 0 ? true : undefined
        },
        { what: "kim's stream at unit 1 ended" },
      )
      const after = await acceptedText(u0, token(ann), g, `${g}-after`)
      await eventually(async () => (messages(await kept(u0)).includes(after) ? true : undefined), {
        what: "the next message in kim's stream at unit 0",
      })
      expect(messages(await kept(u0))).toEqual([after])
      expect(await kept(u1)).toMatchObject({ headPts: 0, events: [] })
      expect(pushed).toEqual(sent) // nothing more reached the phone she had at unit 1
    })
  })
}
