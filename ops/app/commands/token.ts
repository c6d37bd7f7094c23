// `imflow token`: a bearer token for the API, signed with IMFLOW_JWT_SECRET, for trying the
// API with curl and for tools (`imflow demo` mints its own the same way).

import { issueToken } from '../../../connectors/http/jwt.js'
import { ImflowError } from '../../errors.js'
import { loadConfig } from '../config.js'
import { parseDuration, parseToolArgs } from './args.js'

export const tokenUsage = `Usage: imflow token --sub <user> [--admin] [--ttl <duration>] [--jwt-secret <secret>]

Prints an HS256 JWT for the API (Authorization: Bearer <token>), signed with IMFLOW_JWT_SECRET
(or --jwt-secret): the same secret the running imflow was started with.
  --sub <user>       the user the token speaks for (required)
  --admin            add role "admin" (admin routes: conversations, members, users)
  --ttl <duration>   how long it is valid: 90s, 15m, 24h, 7d (default 24h)`

export interface TokenRequest {
  sub: string
  admin?: boolean
  ttlSeconds?: number
}

/** The JWT secret from the flag or IMFLOW_JWT_SECRET, validated like `imflow start` does. */
export function jwtSecret(env: NodeJS.ProcessEnv, flag: string | undefined): string {
  const secret = loadConfig(env, { 'jwt-secret': flag }).jwtSecret
  if (!secret) {
    throw new ImflowError(
      'IMF_ERR_CONFIG',
      'IMFLOW_JWT_SECRET is not set: export the secret the running imflow was started with (export IMFLOW_JWT_SECRET=... before `npm start`), or pass --jwt-secret',
    )
  }
  return secret
}

export function mintToken(request: TokenRequest, secret: string, nowMs = Date.now()): string {
  const iat = Math.floor(nowMs / 1000)
  return issueToken(
    {
      sub: request.sub,
      ...(request.admin ? { role: 'admin' } : {}),
      iat,
      exp: iat + Math.round(request.ttlSeconds ?? 86_400),
    },
    secret,
  )
}

export async function tokenCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseToolArgs('token', argv, {
    sub: { type: 'string' },
    admin: { type: 'boolean' },
    ttl: { type: 'string' },
    'jwt-secret': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help) {
    process.stdout.write(`${tokenUsage}\n`)
    return 0
  }
  if (!values.sub || positionals.length > 0) {
    throw new ImflowError(
      'IMF_ERR_USAGE',
      positionals.length > 0
        ? `imflow token: unexpected argument "${positionals[0]}"`
        : 'imflow token: --sub <user> is required',
    )
  }
  const ttlSeconds = values.ttl === undefined ? undefined : parseDuration(values.ttl, '--ttl')
  const secret = jwtSecret(process.env, values['jwt-secret'])
  process.stdout.write(
    `${mintToken({ sub: values.sub, admin: values.admin ?? false, ttlSeconds }, secret)}\n`,
  )
  return 0
}
