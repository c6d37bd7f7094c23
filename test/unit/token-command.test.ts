import { afterEach, describe, expect, it, vi } from 'vitest'
import { verifyToken } from '../../connectors/http/jwt.js'
import { main } from '../../ops/app/cli.js'
import { parseDuration } from '../../ops/app/commands/args.js'
import { jwtSecret, mintToken } from '../../ops/app/commands/token.js'

const secret = 'token-command-secret-0123456789'

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

describe('imflow token', () => {
  it('mints a token the API verifies, with the role and expiry asked for', () => {
    const now = 1_800_000_000_000
    const claims = verifyToken(
      mintToken({ sub: 'ann', admin: true, ttlSeconds: 90 }, secret, now),
      secret,
      now,
    )
    expect(claims).toMatchObject({ sub: 'ann', role: 'admin', exp: 1_800_000_090 })
    const plain = verifyToken(mintToken({ sub: 'ben' }, secret, now), secret, now)
    expect(plain.role).toBeUndefined()
    expect(plain.exp).toBe(1_800_000_000 + 86_400)
    expect(() =>
      verifyToken(mintToken({ sub: 'ann', ttlSeconds: 90 }, secret, now), secret, now + 91_000),
    ).toThrow(/expired/)
  })

  it('prints the token for --sub from IMFLOW_JWT_SECRET', async () => {
    vi.stubEnv('IMFLOW_JWT_SECRET', secret)
    const io = capture()
    expect(await main(['token', '--sub', 'ann', '--admin', '--ttl', '15m'])).toBe(0)
    const claims = verifyToken(io.out().trim(), secret)
    expect(claims.sub).toBe('ann')
    expect(claims.role).toBe('admin')
    expect((claims.exp as number) - (claims.iat as number)).toBe(900)
  })

  it('says what to do when the secret is unset, and refuses bad flags with exit 2', async () => {
    vi.stubEnv('IMFLOW_JWT_SECRET', '')
    const io = capture()
    expect(await main(['token', '--sub', 'ann'])).toBe(1)
    expect(io.err()).toContain('IMFLOW_JWT_SECRET is not set')
    expect(() => jwtSecret({}, undefined)).toThrow(/IMFLOW_JWT_SECRET is not set/)
    expect(await main(['token'])).toBe(2)
    expect(io.err()).toContain('--sub <user> is required')
    expect(await main(['token', '--sub', 'a', '--ttl', 'soon'])).toBe(2)
    expect(io.err()).toContain('--ttl="soon"')
    expect(await main(['token', '--sub', 'a', '--frob'])).toBe(2)
  })

  it('reads durations as people write them', () => {
    expect(parseDuration('90s', 'x')).toBe(90)
    expect(parseDuration('15m', 'x')).toBe(900)
    expect(parseDuration('24h', 'x')).toBe(86_400)
    expect(parseDuration('7d', 'x')).toBe(604_800)
    expect(parseDuration('250ms', 'x')).toBe(0.25)
    expect(parseDuration('30', 'x')).toBe(30)
    expect(() => parseDuration('0s', 'x')).toThrow(/expected a duration/)
    expect(() => parseDuration('1w', 'x')).toThrow(/expected a duration/)
  })
})
