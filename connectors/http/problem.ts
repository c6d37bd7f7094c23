// Errors as application/problem+json (RFC 9457) with imflow's stable code; fastify's own
// validation and not-found answers are mapped to the same catalogue.

import type { FastifyError, FastifyInstance } from 'fastify'
import { type ErrorCode, errorCodes, ImflowError, isImflowError } from '../../ops/errors.js'

/** An error no layer coded: a bug, answered without its details (they go to the log). */
const internal: ErrorCode = 'IMF_ERR_INTERNAL'

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ImflowError, request, reply) => {
    let problem: ImflowError
    if (isImflowError(error)) problem = error
    else if ((error as FastifyError).validation) {
      problem = new ImflowError('IMF_ERR_BAD_REQUEST', `${error.message}`)
    } else if ((error as FastifyError).statusCode && (error as FastifyError).statusCode !== 500) {
      const status = (error as FastifyError).statusCode as number
      problem = new ImflowError(
        status === 404 ? 'IMF_ERR_NOT_FOUND' : 'IMF_ERR_BAD_REQUEST',
        error.message,
      )
    } else {
      request.log.error({ err: error }, 'unexpected error')
      return reply.code(500).type('application/problem+json').send({
        type: 'about:blank',
        title: 'Internal error',
        status: 500,
        code: internal,
        detail: 'unexpected error',
      })
    }
    if (typeof problem.details.retryAfterMs === 'number') {
      reply.header('retry-after', Math.ceil(problem.details.retryAfterMs / 1000))
    }
    return reply
      .code(problem.status)
      .type('application/problem+json')
      .send({
        type: `https://imflow.dev/errors#${problem.code}`,
        title: errorCodes[problem.code].summary,
        status: problem.status,
        code: problem.code,
        detail: problem.message,
        retriable: problem.retriable,
        ...problem.details,
      })
  })
  app.setNotFoundHandler((request) => {
    throw new ImflowError('IMF_ERR_NOT_FOUND', `no route ${request.method} ${request.url}`)
  })
}
