// Bearer-token authentication for the API: every /v1 route knows its caller.

import type { FastifyRequest } from 'fastify'
import { ImflowError } from '../../ops/errors.js'
import { type Claims, verifyToken } from './jwt.js'

declare module 'fastify' {
  interface FastifyRequest {
    caller: Claims
  }
}

export function authenticate(secret: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null
    if (!match?.[1])
      throw new ImflowError('IMF_ERR_UNAUTHORIZED', 'send Authorization: Bearer <JWT>')
    request.caller = verifyToken(match[1], secret)
  }
}

export async function requireAdmin(request: FastifyRequest): Promise<void> {
  if (request.caller.role !== 'admin') {
    throw new ImflowError('IMF_ERR_FORBIDDEN', 'this route needs a token with role "admin"')
  }
}
