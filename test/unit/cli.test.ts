import { afterEach, describe, expect, it, vi } from 'vitest'
import { main } from '../../ops/app/cli.js'

function capture() {
  let out = ''
  let err = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk)
    return true
  })
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk)
    return true
  })
  return { out: () => out, err: () => err }
}

afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllEnvs()
})

describe('imflow command line', () => {
  it('--help lists the commands and the settings and exits 0', async () => {
    const io = capture()
    expect(await main(['--help'])).toBe(0)
    expect(io.out()).toContain('Usage: imflow <command>')
    expect(io.out()).toMatch(/\n {2}start +Run every topology/)
    expect(io.out()).toMatch(/\n {2}topics +Create/)
    expect(io.out()).toContain('--brokers, KAFKA_BROKERS')
  })

  it('refuses an unknown command or flag with usage and exit code 2', async () => {
    const io = capture()
    expect(await main(['frobnicate'])).toBe(2)
    expect(io.err()).toContain('unknown command "frobnicate"')
    expect(await main(['start', '--no-such-flag'])).toBe(2)
    expect(io.err()).toContain("Unknown option '--no-such-flag'")
  })

  it('knows unit failover as one command of two words, which needs the unit’s cluster', async () => {
    const io = capture()
    expect(await main(['--help'])).toBe(0)
    expect(io.out()).toMatch(/\n {2}unit failover +Take over a failed unit/)
    expect(await main(['unit'])).toBe(2)
    expect(io.err()).toContain('unknown command "unit"')
    expect(await main(['unit', 'failover', 'now'])).toBe(2)
    expect(io.err()).toContain('unexpected argument "now"')
    vi.stubEnv('KAFKA_BROKERS', undefined)
    expect(await main(['unit', 'failover', '--unit', '3'])).toBe(1)
    expect(io.err()).toContain('set KAFKA_BROKERS')
  })

  it('reports an invalid setting with its code and exits 1 before starting anything', async () => {
    const io = capture()
    expect(await main(['start', '--port', 'eighty'])).toBe(1)
    expect(io.err()).toContain('--port="eighty": expected a whole number')
    expect(io.err()).toContain('IMF_ERR_CONFIG')
  })
})
