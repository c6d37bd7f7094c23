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

// The first main() loads the commands' modules (the whole app): seconds on a loaded machine.
describe('imflow demo and imflow bench on the command line', { timeout: 30_000 }, () => {
  it('are listed in the help, and each has its own', async () => {
    const io = capture()
    expect(await main(['--help'])).toBe(0)
    expect(io.out()).toMatch(/\n {2}demo +Drive realistic traffic/)
    expect(io.out()).toMatch(/\n {2}bench +Run the benchmarks/)
    expect(await main(['demo', '--help'])).toBe(0)
    expect(io.out()).toContain('Usage: imflow demo [--url <api>]')
    expect(await main(['bench', '--help'])).toBe(0)
    expect(io.out()).toContain('codec, runtime, receiver, sync')
  })

  it('refuse what they do not understand with exit 2', async () => {
    vi.stubEnv('IMFLOW_JWT_SECRET', 'tool-commands-secret-0123')
    const io = capture()
    expect(await main(['demo', '--rate', 'fast'])).toBe(2)
    expect(io.err()).toContain('--rate="fast": expected a whole number')
    expect(await main(['demo', '--duration', 'forever'])).toBe(2)
    expect(await main(['demo', 'now'])).toBe(2)
    expect(await main(['bench', 'nope'])).toBe(2)
    expect(io.err()).toContain('unknown benchmark nope; known: codec, runtime, receiver, sync')
  })

  it('demo says where no imflow answers, and that it needs the secret', async () => {
    const io = capture()
    vi.stubEnv('IMFLOW_JWT_SECRET', '')
    expect(await main(['demo'])).toBe(1)
    expect(io.err()).toContain('IMFLOW_JWT_SECRET is not set')
    vi.stubEnv('IMFLOW_JWT_SECRET', 'tool-commands-secret-0123')
    expect(await main(['demo', '--url', 'http://127.0.0.1:9'])).toBe(1)
    expect(io.err()).toContain('no imflow answers at http://127.0.0.1:9')
    expect(io.err()).toContain('IMF_ERR_API_UNAVAILABLE')
  })
})
