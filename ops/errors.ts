// The one catalogue of imflow's errors. Every failure imflow reports carries a code from
// here, each code with one meaning, grouped by the layer that raises it; docs/errors.md
// documents each one (in the same groups) and a test keeps the two in step.

export const errorCodes = {
  // The command line and configuration (ops/app)
  IMF_ERR_CONFIG: { retriable: false, status: 500, summary: 'A setting is missing or invalid' },
  IMF_ERR_USAGE: { retriable: false, status: 400, summary: 'The command line is not understood' },
  IMF_ERR_APP_RUNNING: {
    retriable: true,
    status: 409,
    summary: 'imflow replay refused: instances of that app id are running',
  },
  IMF_ERR_UNIT_ALIVE: {
    retriable: true,
    status: 409,
    summary: 'imflow unit failover refused: the unit still has running instances',
  },
  IMF_ERR_LOG_STALLED: {
    retriable: true,
    status: 500,
    summary: 'Reading a log to its end stalled: a transaction there stays open',
  },
  // The embedded servers (ops/embedded)
  IMF_ERR_JAVA_MISSING: {
    retriable: false,
    status: 500,
    summary: 'No Java runtime recent enough for an embedded server was found',
  },
  IMF_ERR_PORT_IN_USE: {
    retriable: false,
    status: 500,
    summary: 'A port an embedded server needs is taken',
  },
  IMF_ERR_JARS_FETCH: {
    retriable: true,
    status: 500,
    summary: 'Fetching the server jars from Maven Central failed',
  },
  IMF_ERR_SERVER_EXITED: {
    retriable: false,
    status: 500,
    summary: 'An embedded server process exited while starting',
  },
  IMF_ERR_SERVER_TIMEOUT: {
    retriable: true,
    status: 500,
    summary: 'An embedded server did not become ready in time',
  },
  // Kafka and the schema registry (ops foundation, provisioning)
  IMF_ERR_KAFKA_UNAVAILABLE: {
    retriable: true,
    status: 503,
    summary: 'The Kafka cluster does not answer',
  },
  IMF_ERR_REGISTRY_UNAVAILABLE: {
    retriable: true,
    status: 503,
    summary: 'The schema registry does not answer',
  },
  IMF_ERR_TOPIC_MISMATCH: {
    retriable: false,
    status: 500,
    summary: 'An existing topic differs from what the contract needs',
  },
  IMF_ERR_KAFKA_UNSUPPORTED: {
    retriable: false,
    status: 500,
    summary:
      'The Kafka broker lacks a protocol version imflow needs (TxnOffsetCommit v3, OffsetFetch v7: KIP-447)',
  },
  IMF_ERR_GROUP_FENCED: {
    retriable: false,
    status: 500,
    summary:
      "A transaction's offsets carried a consumer group generation or member the group has moved past",
  },
  IMF_ERR_OFFSETS_UNSTABLE: {
    retriable: true,
    status: 503,
    summary:
      "A group's committed offsets stayed held by an open transaction longer than imflow waits",
  },
  // The wire format (schemas)
  IMF_ERR_NOT_AVRO: {
    retriable: false,
    status: 400,
    summary: 'A record is not in the Confluent Avro wire format (too short or wrong magic byte)',
  },
  IMF_ERR_UNKNOWN_SCHEMA: {
    retriable: false,
    status: 400,
    summary: 'A record names a schema id the registry does not know',
  },
  IMF_ERR_DECODE: {
    retriable: false,
    status: 400,
    summary: "A record's Avro body does not decode with its writer schema",
  },
  IMF_ERR_INVALID_ACTION: {
    retriable: false,
    status: 400,
    summary: 'An action on im.actions is malformed (a bad message id, an emoji too long)',
  },
  IMF_ERR_ENCODE: {
    retriable: false,
    status: 500,
    summary: 'A value does not fit its Avro schema',
  },
  IMF_ERR_SCHEMA_INCOMPATIBLE: {
    retriable: false,
    status: 409,
    summary: 'A schema change breaks BACKWARD compatibility with the registered one',
  },
  // Topologies and their runtime (topologies)
  IMF_ERR_RECORD_TOO_LARGE: {
    retriable: false,
    status: 500,
    summary: 'A record a topology would write is larger than Kafka accepts in one record batch',
  },
  IMF_ERR_TOPOLOGY: {
    retriable: false,
    status: 500,
    summary:
      'A topology is defined inconsistently (a store, sink or dead-letter topic it uses is not declared)',
  },
  IMF_ERR_TRANSACTION_ABORTED: {
    retriable: true,
    status: 500,
    summary: "A stream thread's shared transaction was aborted because another of its tasks failed",
  },
  IMF_ERR_NOT_READY: {
    retriable: true,
    status: 503,
    summary: 'The data for this request is not served by this instance right now',
  },
  // The HTTP API and the push gateway (connectors/http, connectors/push-gateway)
  IMF_ERR_UNAUTHORIZED: {
    retriable: false,
    status: 401,
    summary: 'The request has no valid bearer token',
  },
  IMF_ERR_FORBIDDEN: {
    retriable: false,
    status: 403,
    summary: 'The caller may not do this (not a member, or not an admin)',
  },
  IMF_ERR_BAD_REQUEST: {
    retriable: false,
    status: 400,
    summary: 'The request does not match the route’s schema',
  },
  IMF_ERR_NOT_FOUND: { retriable: false, status: 404, summary: 'No such route or resource' },
  IMF_ERR_UNIT_UNREACHABLE: {
    retriable: false,
    status: 422,
    summary:
      'A conversation cannot be homed in (or moved to) that unit from here; the message says why',
  },
  IMF_ERR_REJECTED: {
    retriable: false,
    status: 422,
    summary: 'The receiver rejected the message; the reason code says why',
  },
  IMF_ERR_THROTTLED: {
    retriable: true,
    status: 429,
    summary: 'A rate limit or overload throttled the message; retry after the given time',
  },
  IMF_ERR_TIMEOUT: {
    retriable: true,
    status: 504,
    summary: 'No answer from the receiver within the request timeout',
  },
  IMF_ERR_OVERLOADED: {
    retriable: true,
    status: 503,
    summary: 'The instance cannot keep up right now and sheds load; retry after the given time',
  },
  IMF_ERR_PEER_UNAVAILABLE: {
    retriable: true,
    status: 502,
    summary: 'The instance that owns the data did not answer, or refused the internal read',
  },
  // The client library (connectors/client)
  IMF_ERR_API_UNAVAILABLE: {
    retriable: true,
    status: 502,
    summary: 'The client library could not reach the imflow API, or got an answer it cannot read',
  },
  IMF_ERR_CLIENT_CLOSED: {
    retriable: false,
    status: 400,
    summary: 'The client library was closed; what was asked of it after close() fails',
  },
  // Any layer
  IMF_ERR_INTERNAL: {
    retriable: false,
    status: 500,
    summary: 'A bug: the code broke one of its own rules, or an unexpected error reached the API',
  },
} as const

export type ErrorCode = keyof typeof errorCodes

export class ImflowError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly status: number
  /** Machine-readable particulars (a reason code, a retry time), shown in API problems. */
  readonly details: Readonly<Record<string, unknown>>

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options)
    this.name = 'ImflowError'
    this.code = code
    this.retriable = errorCodes[code].retriable
    this.status = errorCodes[code].status
    this.details = options?.details ?? {}
  }
}

export function isImflowError(err: unknown, code?: ErrorCode): err is ImflowError {
  return err instanceof ImflowError && (code === undefined || err.code === code)
}
