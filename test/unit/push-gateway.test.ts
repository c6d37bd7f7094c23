// The push gateway's pure parts: device events written in the order seen with waiting acks
// merged, the replace-on-reconnect session registry, and the client frame parser.

import { describe, expect, it } from 'vitest'
import { parseClientFrame, serverFrame } from '../../connectors/protocol/frames.js'
import { DeviceReporter, type KeyedRecord } from '../../connectors/push-gateway/device-reporter.js'
import { DeviceSessions } from '../../connectors/push-gateway/sessions.js'
import { silentLogger } from '../../ops/log.js'
import type { EventCodec } from '../../schemas/codec.js'
import type { DeviceEvent } from '../../schemas/types.generated.js'

const jsonCodec: EventCodec<DeviceEvent> = {
  subject: 'test',
  schemaId: 0,
  encode: (value) => Buffer.from(JSON.stringify(value)),
  decode: async (bytes) => JSON.parse(bytes.toString()),
}

const event = (deviceId: string, inner: DeviceEvent['event'], userId = 'ann'): DeviceEvent => ({
  userId,
  deviceId,
  at: 1,
  event: inner,
})

/** A sink that holds each send until released, recording the batches. */
function gatedSink() {
  const batches: { key: string; event: DeviceEvent['event']; device: string }[][] = []
  const gates: (() => void)[] = []
  const sink = async (records: KeyedRecord[]) => {
    batches.push(
      records.map((r) => {
        const value = JSON.parse(r.value.toString()) as DeviceEvent
        return { key: r.key, event: value.event, device: value.deviceId }
      }),
    )
    await new Promise<void>((resolve) => gates.push(resolve))
  }
  return { sink, batches, release: () => gates.shift()?.() }
}

describe('DeviceReporter', () => {
  it('writes in the order seen, one send at a time, merging only acks still waiting', async () => {
    const { sink, batches, release } = gatedSink()
    const reporter = new DeviceReporter(sink, jsonCodec, silentLogger)
    const done = [
      reporter.report(
        event('d1', { kind: 'LoggedIn', lastPts: 0, deviceClass: 'MOBILE', gateway: 'g' }),
      ),
      // Queued behind the first send:
      reporter.report(event('d1', { kind: 'Acked', pts: 3 })),
      reporter.report(event('d2', { kind: 'Acked', pts: 1 }, 'ben')),
      reporter.report(event('d1', { kind: 'Acked', pts: 5 })), // merged into pts 3's record
      reporter.report(event('d1', { kind: 'LoggedOut', gateway: 'gw' })),
      reporter.report(event('d1', { kind: 'Acked', pts: 2 })), // after the log-out: its own
    ]
    await new Promise((r) => setTimeout(r, 10))
    expect(batches).toHaveLength(1) // the rest waits for the first send
    release()
    await new Promise((r) => setTimeout(r, 10))
    release()
    await Promise.all(done)
    expect(batches).toEqual([
      [
        {
          key: 'ann',
          device: 'd1',
          event: { kind: 'LoggedIn', lastPts: 0, deviceClass: 'MOBILE', gateway: 'g' },
        },
      ],
      [
        { key: 'ann', device: 'd1', event: { kind: 'Acked', pts: 5 } },
        { key: 'ben', device: 'd2', event: { kind: 'Acked', pts: 1 } },
        { key: 'ann', device: 'd1', event: { kind: 'LoggedOut', gateway: 'gw' } },
        { key: 'ann', device: 'd1', event: { kind: 'Acked', pts: 2 } },
      ],
    ])
  })

  it('rejects the events of a send that failed for good and goes on with the next', async () => {
    let fail = true
    const sent: string[] = []
    const reporter = new DeviceReporter(
      async (records) => {
        if (fail) throw Object.assign(new Error('broken'), { retriable: false })
        sent.push(...records.map((r) => r.key))
      },
      jsonCodec,
      silentLogger,
    )
    await expect(
      reporter.report(event('d1', { kind: 'LoggedOut', gateway: 'gw' })),
    ).rejects.toThrow('broken')
    fail = false
    await reporter.report(event('d1', { kind: 'LoggedOut', gateway: 'gw' }, 'cy'))
    await reporter.close()
    await reporter.report(event('d1', { kind: 'LoggedOut', gateway: 'gw' }, 'late')) // dropped after close
    expect(sent).toEqual(['cy'])
  })
})

describe('DeviceSessions', () => {
  it('lets a newer connection replace the older, whose removal then changes nothing', () => {
    const sessions = new DeviceSessions<string>()
    const older = { userId: 'ann', deviceId: 'phone', socket: 'older' }
    const newer = { userId: 'ann', deviceId: 'phone', socket: 'newer' }
    const other = { userId: 'bob', deviceId: 'phone', socket: 'bob' }
    expect(sessions.add(older)).toBeUndefined()
    expect(sessions.add(other)).toBeUndefined()
    expect(sessions.add(newer)).toBe(older)
    expect(sessions.size).toBe(2)
    expect(sessions.isCurrent(older)).toBe(false)
    expect(sessions.remove(older)).toBe(false)
    expect(sessions.find('ann', ['phone', 'desk']).map((s) => s.socket)).toEqual(['newer'])
    expect(sessions.remove(newer)).toBe(true)
    expect(sessions.find('ann', ['phone'])).toEqual([])
    expect(sessions.all().map((s) => s.socket)).toEqual(['bob'])
    expect(sessions.size).toBe(1)
  })
})

describe('WebSocket frames', () => {
  it('parses acks, ignores unknown types, and refuses malformed frames', () => {
    expect(parseClientFrame('{"type":"ack","pts":42}')).toEqual({ type: 'ack', pts: 42 })
    expect(parseClientFrame('{"type":"typing","conversationId":"c"}')).toBeUndefined()
    for (const bad of [
      '{oops',
      '[]',
      '"ack"',
      '{"type":"ack"}',
      '{"type":"ack","pts":-1}',
      '{"type":"ack","pts":1.5}',
    ]) {
      expect(() => parseClientFrame(bad), bad).toThrow(
        expect.objectContaining({ code: 'IMF_ERR_BAD_REQUEST' }),
      )
    }
  })

  it('renders a batch as events and a Rebase as rebase', () => {
    expect(JSON.parse(serverFrame({ kind: 'Rebase', headPts: 9 }))).toEqual({
      type: 'rebase',
      headPts: 9,
    })
    const read = {
      priority: 'LOW' as const,
      payload: { kind: 'ConversationRead' as const, conversationId: 'c', upToMsgId: '5' },
    }
    expect(
      JSON.parse(serverFrame({ kind: 'SyncBatch', events: [{ pts: 3, event: read }] })),
    ).toEqual({
      type: 'events',
      events: [{ pts: 3, event: read }],
    })
  })
})
