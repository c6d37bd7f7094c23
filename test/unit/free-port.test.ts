import { spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { freePort } from '../../ops/ports.js'

describe('freePort', () => {
  it('chooses a port below the kernel’s ephemeral range, and one that can be bound', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()))
    for (const port of ports) {
      // Outgoing connections take ports from 32768 up: none of them can race a JVM for these.
      expect(port).toBeGreaterThanOrEqual(20_000)
      expect(port).toBeLessThan(32_000)
    }
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: '127.0.0.1', port: ports[0] }, resolve)
    })
    await new Promise((resolve) => server.close(resolve))
  })

  it('never hands out the same port twice (each stays free until its server binds it)', async () => {
    // 400 random picks from 12,000 ports would repeat one with ~99% odds.
    const ports: number[] = []
    for (let i = 0; i < 400; i++) ports.push(await freePort())
    expect(new Set(ports).size).toBe(ports.length)
  })
})

describe('reservePort', () => {
  it('keeps a port handed out here from another process', async () => {
    const port = await freePort()
    const other = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { reservePort } = await import('./ops/ports.ts'); console.log(reservePort(${port}))`,
      ],
      { encoding: 'utf8' },
    )
    expect(other.stderr).toBe('')
    expect(other.stdout.trim()).toBe('false')
  })
})
