// The client library's errors: the code of the API's problem answer, passed through as it came
// (docs/errors.md lists them all), or one the client raises itself. Apart from the server's
// catalogue (ops/errors.ts) on purpose: the client ships to devices and imports no server code.

/** Codes the client raises itself (each is in the server's catalogue, with the same meaning). */
export type ClientErrorCode =
  | 'IMF_ERR_API_UNAVAILABLE'
  | 'IMF_ERR_UNAUTHORIZED'
  | 'IMF_ERR_BAD_REQUEST'
  | 'IMF_ERR_CONFIG'
  | 'IMF_ERR_USAGE'
  | 'IMF_ERR_CLIENT_CLOSED'

const RETRIABLE: ReadonlySet<string> = new Set(['IMF_ERR_API_UNAVAILABLE'])

export class ImflowClientError extends Error {
  /** A ClientErrorCode, or the code of the API's problem answer (IMF_ERR_...). */
  readonly code: ClientErrorCode | (string & {})
  readonly retriable: boolean
  /** The problem's particulars (a reason code, a retry time). */
  readonly details: Readonly<Record<string, unknown>>

  constructor(
    code: ClientErrorCode | (string & {}),
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown>; retriable?: boolean },
  ) {
    super(message, options)
    this.name = 'ImflowClientError'
    this.code = code
    this.retriable = options?.retriable ?? RETRIABLE.has(code)
    this.details = options?.details ?? {}
  }
}

/** An API problem answer's code looks like this. */
export const PROBLEM_CODE = /^IMF_ERR_[A-Z_]+$/

export function isImflowClientError(err: unknown, code?: string): err is ImflowClientError {
  return err instanceof ImflowClientError && (code === undefined || err.code === code)
}
