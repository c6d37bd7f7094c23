import { describe, expect, it } from 'vitest'
import { planDemo } from '../../ops/app/demo/plan.js'
import { finalReport, liveScreen } from '../../ops/app/demo/screen.js'
import { DemoStats } from '../../ops/app/demo/stats.js'

describe("imflow demo's population", () => {
  it('has the seeds shape: fan-out ~30, lognormal senders, groups of every size', {
    timeout: 60_000,
  }, () => {
    const plan = planDemo({ users: 2_000, seed: 3 })
    const sizes = plan.conversations.map((c) => c.members.length)
    expect(plan.conversations.some((c) => c.kind === 'large' && c.members.length >= 500)).toBe(true)
    expect(sizes.filter((s) => s <= 20).length).toBeGreaterThan(plan.conversations.length * 0.9)
    const perUser = new Map<string, number>()
    let reached = 0
    let privates = 0
    const N = 20_000
    for (let i = 0; i < N; i++) {
      const m = plan.next()
      // Every sender speaks where they are a member; PRIVATE targets are members too.
      if (!m.conversation.members.includes(m.senderId)) throw new Error(`${m.senderId} not in it`)
      if (m.targets) {
        privates++
        if (!m.targets.every((t) => m.conversation.members.includes(t))) throw new Error('target')
      }
      reached += m.targets ? m.targets.length + 1 : m.conversation.members.length
      perUser.set(m.senderId, (perUser.get(m.senderId) ?? 0) + 1)
    }
    expect(reached / N).toBeGreaterThan(22)
    expect(reached / N).toBeLessThan(40)
    expect(privates).toBeGreaterThan(0)
    // Lognormal sigma 1.55: the top 6% of users send about half the messages.
    const counts = [...perUser.values()].sort((a, b) => b - a)
    const top = counts.slice(0, 120).reduce((s, v) => s + v, 0) / N
    expect(top).toBeGreaterThan(0.35)
    expect(top).toBeLessThan(0.65)
  })

  it('has one group of 10,000+ with 10,000 users or more', { timeout: 60_000 }, () => {
    const plan = planDemo({ users: 10_400 })
    const huge = plan.conversations.filter((c) => c.kind === 'huge')
    expect(huge).toHaveLength(1)
    expect(huge[0]?.members.length).toBeGreaterThanOrEqual(10_000)
    expect(new Set(huge[0]?.members).size).toBe(huge[0]?.members.length)
    expect(planDemo({ users: 500 }).conversations.some((c) => c.kind === 'huge')).toBe(false)
  })

  it('is drawn the same from the same seed', () => {
    const a = planDemo({ users: 300, seed: 9, prefix: 'x-' })
    const b = planDemo({ users: 300, seed: 9, prefix: 'x-' })
    expect(a.conversations).toEqual(b.conversations)
    expect(Array.from({ length: 50 }, () => a.next())).toEqual(
      Array.from({ length: 50 }, () => b.next()),
    )
  })
})

describe("imflow demo's screen", () => {
  it('shows the counts, the latency and "—" for what the server does not report yet', () => {
    const stats = new DemoStats()
    stats.sent = 120
    stats.accepted = 118
    stats.recipients = 118 * 30
    for (let i = 1; i <= 100; i++) stats.deliveredAfter(i)
    const frame = {
      url: 'http://127.0.0.1:8080',
      stats,
      recent: stats.takeWindow(),
      devices: 40,
      rate: 50,
      durationSeconds: 60,
      server: { lag: 12 },
    }
    const screen = liveScreen(frame).join('\n')
    expect(screen).toMatch(/sent +120/)
    expect(screen).toContain('avg fan-out 30.0')
    expect(screen).toMatch(/p50 5\d\.?\d* ms/)
    expect(screen).toContain('merge reduction —')
    expect(screen).toContain('lag 12')
    const report = finalReport(frame, { small: 80, dm: 40 }).join('\n')
    expect(report).toContain('by kind     small 80, dm 40')
    expect(report).toMatch(/p99 100 ms/)
  })
})
