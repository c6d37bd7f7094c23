// GET /dashboard in a real headless Chromium (Debian's, driven by playwright-core) against a
// running app: while `imflow demo` sends and its devices are online, the charts fill and
// move, the counters show the traffic, and the panels whose metrics do not exist yet show "—".

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningApp } from '../../ops/app/app.js'
import { runDemo } from '../../ops/app/demo/run-demo.js'
import { eventually, startTestApp, unique } from './helpers.js'

const secret = 'dashboard-secret-0123456789abcdef'
const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

describe('the dashboard in a browser', () => {
  let app: RunningApp
  let stopApp: () => Promise<void>
  let browser: BrowserContext
  let profile: string

  beforeAll(async () => {
    ;({ app, stop: stopApp } = await startTestApp(`${unique('dash')}.`, {
      IMFLOW_JWT_SECRET: secret,
    }))
    profile = await mkdtemp(join(tmpdir(), 'imflow-chromium-'))
    // A persistent context is how playwright takes a fresh --user-data-dir.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: chromiumFlags,
      viewport: { width: 1280, height: 900 },
    })
  })
  afterAll(async () => {
    await browser?.close()
    await stopApp?.()
    if (profile) await rm(profile, { recursive: true, force: true })
  })

  const panel = async (page: Page, name: string) =>
    page.$eval(`[data-panel="${name}"]`, (card) => ({
      value: card.getAttribute('data-value') ?? '',
      points: Number(card.getAttribute('data-points') ?? 0),
      big: card.querySelector('.big')?.textContent ?? '',
      paths: [...card.querySelectorAll('path')].map((p) => p.getAttribute('d') ?? ''),
    }))

  it('shows throughput, devices and latency live while demo traffic flows', {
    timeout: 180_000,
  }, async () => {
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(String(err)))
    await page.goto(`${app.url}/dashboard?interval=500&span=30000`)
    // `imflow demo` in the background until the test has seen what it needs.
    const stopDemo = new AbortController()
    const demo = runDemo({
      url: app.url,
      jwtSecret: secret,
      users: 60,
      rate: 10,
      durationSeconds: 120,
      devices: 12,
      write: () => {},
      tty: false,
      signal: stopDemo.signal,
    })
    try {
      const first = await eventually(
        async () => {
          const t = await panel(page, 'throughput')
          return Number(t.value) > 0 && t.points >= 2 ? t : undefined
        },
        { timeoutMs: 90_000, what: 'the throughput chart to show traffic' },
      )
      // The charts move: a later poll draws other lines, with more points.
      const later = await eventually(
        async () => {
          const t = await panel(page, 'throughput')
          return t.points > first.points && t.paths.join() !== first.paths.join() ? t : undefined
        },
        { timeoutMs: 20_000, what: 'the throughput chart to move' },
      )
      expect(later.paths.length).toBeGreaterThan(0)
      const devices = await eventually(
        async () => {
          const d = await panel(page, 'devices')
          return Number(d.value) >= 1 ? d : undefined
        },
        { what: 'online devices' },
      )
      expect(devices.big).toMatch(/^\d+$/)
      const latency = await eventually(
        async () => {
          const l = await panel(page, 'latency')
          return Number(l.value) > 0 ? l : undefined
        },
        { what: 'a latency figure' },
      )
      expect(latency.big).toMatch(/ms$/)
      expect(Number((await panel(page, 'loop')).value)).toBeGreaterThan(0)
      expect((await panel(page, 'dead')).big).toBe('0')
      // Shaping reports from the start: nothing throttled, nothing waiting in the LOW lane.
      expect((await panel(page, 'throttled')).big).toMatch(/^\d/)
      expect((await panel(page, 'low')).big).toMatch(/^\d/)
      // The demo's read receipts and reactions reach the merge: its reduction shows (in a short
      // demo of mostly 1:1 reads it can be negative: read ticks are sent, not merged away).
      const merge = await eventually(
        async () => {
          const m = await panel(page, 'merge')
          return m.big.endsWith('%') ? m : undefined
        },
        { timeoutMs: 60_000, what: 'the merge reduction' },
      )
      expect(Number.isFinite(Number(merge.value))).toBe(true)
      expect(await page.textContent('#status')).toMatch(/^live/)
      expect(errors).toEqual([])
      await mkdir('test-results', { recursive: true })
      await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true })
    } finally {
      stopDemo.abort()
    }
    const { stats } = await demo
    expect(stats.accepted).toBeGreaterThan(0)
  })
})
