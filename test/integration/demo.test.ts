// `imflow demo` for a few seconds against a running app: the population is created over the
// admin API, devices come online, messages are sent, accepted and pushed to the devices.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningApp } from '../../ops/app/app.js'
import { runDemo } from '../../ops/app/demo/run-demo.js'
import { startTestApp, unique } from './helpers.js'

const secret = 'demo-secret-0123456789abcdef'

describe('imflow demo', () => {
  let app: RunningApp
  let stop: () => Promise<void>

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(`${unique('demo')}.`, { IMFLOW_JWT_SECRET: secret }))
  })
  afterAll(async () => {
    await stop?.()
  })

  it('sends the workload and its devices receive it', { timeout: 120_000 }, async () => {
    let output = ''
    const { stats, kinds, report } = await runDemo({
      url: app.url,
      jwtSecret: secret,
      users: 80,
      rate: 20,
      durationSeconds: 6,
      devices: 30,
      write: (text) => {
        output += text
      },
      tty: false,
    })
    expect(stats.sent).toBeGreaterThanOrEqual(100)
    // Under a loaded machine a receipt may time out (failed); nothing is refused.
    expect(stats.accepted, report.join('\n')).toBeGreaterThan(stats.sent * 0.5)
    expect(stats.rejected, report.join('\n')).toBe(0)
    expect(stats.delivered).toBeGreaterThan(0)
    expect(stats.overall().p50).toBeGreaterThan(0)
    expect(Object.keys(kinds)).toEqual(expect.arrayContaining(['small', 'dm']))
    expect(stats.logins).toBeGreaterThanOrEqual(30)
    // Read receipts are accepted; reactions stop quietly where the server has no route yet.
    const sideErrors = [...stats.errors.keys()].filter((k) => /^(read|reaction)/.test(k))
    expect(sideErrors).toEqual([])
    expect(output).toMatch(/demo \d+s: sent=\d+/)
    expect(report.join('\n')).toMatch(/delivered +\d+ pushes/)
  })

  it('says so when the secret is not the server’s', async () => {
    await expect(
      runDemo({
        url: app.url,
        jwtSecret: 'not-the-secret-0123456789',
        users: 10,
        rate: 1,
        durationSeconds: 1,
        devices: 1,
        write: () => {},
        tty: false,
      }),
    ).rejects.toThrow(/refused the demo's admin token/)
  })
})
