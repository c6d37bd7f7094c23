// `npx imflow` from the repository, as a fresh clone runs it: package.json's bin is a launcher
// that runs the TypeScript sources through tsx, no build step.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { verifyToken } from '../../connectors/http/jwt.js'

const run = promisify(execFile)
const secret = 'cli-npx-secret-0123456789abcdef'

describe('npx imflow', () => {
  it('prints the help and mints a token the API accepts', { timeout: 60_000 }, async () => {
    const help = await run('npx', ['imflow', '--help'], { cwd: process.cwd() })
    expect(help.stdout).toContain('Usage: imflow <command>')
    expect(help.stdout).toMatch(/\n {2}token +Print an API token/)
    const token = await run('npx', ['imflow', 'token', '--sub', 'ann', '--admin'], {
      cwd: process.cwd(),
      env: { ...process.env, IMFLOW_JWT_SECRET: secret },
    })
    expect(verifyToken(token.stdout.trim(), secret)).toMatchObject({ sub: 'ann', role: 'admin' })
  })
})
