// `imflow replay` and `imflow digest` on the command line: their help, and usage errors
// answered before anything connects (exit 2, the flag named).

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
})

describe('imflow replay and digest', () => {
  it('are listed, and explain themselves with --help', async () => {
    const io = capture()
    expect(await main(['--help'])).toBe(0)
    expect(io.out()).toMatch(/\n {2}replay +Reprocess the log/)
    expect(io.out()).toMatch(/\n {2}digest +Print a digest/)
    expect(await main(['replay', '--help'])).toBe(0)
    expect(io.out()).toContain('--into <app id>')
    expect(await main(['digest', '--help'])).toBe(0)
    expect(io.out()).toContain('--topology <name>')
  })

  it('refuses a replay without --from, a bad position or an unknown topology, with exit 2', async () => {
    const io = capture()
    expect(await main(['replay'])).toBe(2)
    expect(io.err()).toContain('--from <ISO time|offset> is required')
    expect(await main(['replay', '--from', 'last tuesday'])).toBe(2)
    expect(io.err()).toContain('--from="last tuesday": expected an ISO time')
    expect(await main(['replay', '--from', '0', '--to', 'soon'])).toBe(2)
    expect(io.err()).toContain('--to="soon"')
    expect(await main(['digest', '--topology', 'nope'])).toBe(2)
    expect(io.err()).toContain('unknown topology nope; known: inbound, receiver')
  })
})
