// Adding one protocol version to one of kafkajs' own request definitions
// (kafkajs/src/protocol/requests/<name>/index.js), so the rest of kafkajs stays as it is:
// the broker it sends to, its retries, and the version negotiated from the broker's
// ApiVersions by kafkajs' lookup(), which passes min(highest version here, the broker's
// highest). The added version goes out only for the calls imflow marks; every other call is
// encoded as before, at kafkajs' own highest version at most. Used by
// ops/kafkajs-fenced-offsets.ts (TxnOffsetCommit v3) and ops/kafkajs-stable-offsets.ts
// (OffsetFetch v7). A definition is an object kafkajs reads at each request, so this works
// whatever the import order.

import { ImflowError } from './errors.js'
import type { KafkaEncoder } from './kafka-flexible-codec.js'

export interface ProtocolPair {
  request: { apiKey: number; apiVersion: number; apiName: string; encode(): Promise<KafkaEncoder> }
  response: { decode(bytes: Buffer): Promise<unknown>; parse(data: unknown): Promise<unknown> }
}

/** kafkajs' shape of a request's versions. */
export interface RequestDefinition<Args> {
  versions: string[]
  protocol(options: { version: number }): (args: Args) => ProtocolPair
}

/**
 * Makes `definition` offer `version` too. For each request kafkajs builds, `build` gets its
 * arguments and the negotiated version: it returns the request to send instead, or
 * undefined for kafkajs' own encoding. Installs once per `mark`.
 */
export function addRequestVersion<Args>(
  definition: RequestDefinition<Args> & { [mark: symbol]: unknown },
  mark: symbol,
  version: number,
  build: (args: Args, negotiated: number) => ProtocolPair | undefined,
): void {
  if (definition[mark]) return
  const original = definition.protocol.bind(definition)
  const kafkajsMax = Math.max(...definition.versions.map(Number))
  definition.versions = [...definition.versions, String(version)]
  definition.protocol =
    ({ version: negotiated }) =>
    (args) =>
      build(args, negotiated) ?? original({ version: Math.min(negotiated, kafkajsMax) })(args)
  definition[mark] = true
}

/** A broker below the version imflow needs: never a silent fallback to an older one. */
export function unsupportedVersion(
  api: string,
  brokerVersion: number,
  needed: number,
  consequence: string,
): ImflowError {
  return new ImflowError(
    'IMF_ERR_KAFKA_UNSUPPORTED',
    `the broker speaks ${api} up to v${brokerVersion}; imflow needs v${needed} ${consequence}`,
    { details: { api, brokerVersion, needed } },
  )
}

/** The broker's error type, wherever kafkajs put it (its errors wrap one another). */
export function brokerErrorType(err: unknown): string | undefined {
  for (let e = err as Record<string, unknown> | undefined, i = 0; e && i < 5; i++) {
    if (typeof e.type === 'string') return e.type
    e = (e.originalError ?? e.cause) as Record<string, unknown> | undefined
  }
  return undefined
}
