// Where the codec gets schema ids and writer schemas: a narrow interface with the real
// schema registry behind it (through @kafkajs/confluent-schema-registry) and an in-memory
// one for pure unit tests and benchmarks of the codec itself.

import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import { ImflowError } from '../ops/errors.js'
import { retry } from '../ops/retry.js'
import type { AvroSchema } from './avro-schemas.js'

export interface SchemaSource {
  /** Registers the schema under the subject (idempotent) and returns its id. */
  register(subject: string, schema: AvroSchema): Promise<number>
  /** The writer schema with this id; IMF_ERR_UNKNOWN_SCHEMA when there is none. */
  schemaById(id: number): Promise<AvroSchema>
}

function status(err: unknown): number | undefined {
  const s = (err as { status?: unknown }).status
  return typeof s === 'number' ? s : undefined
}

export interface RegistryOptions {
  /**
   * How long one request may go unanswered. Apicurio was seen to read a request and never
   * answer it; without a bound, a codec (and the task decoding with it) waits for ever.
   */
  requestTimeoutMs?: number
  /** Calls sent again after a timeout: registering and reading schemas are idempotent. */
  timeoutRetries?: number
}

/** The registry client's middleware (mappersmith's), typed as the client takes it. */
type Middleware = NonNullable<
  ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']
>[number]

/** Every request bounded in time (mappersmith answers a timeout as a 400, "Timeout (N ms)"). */
function timeoutAfter(ms: number): Middleware {
  return () => ({
    prepareRequest: (next) => next().then((request) => request.enhance({ timeout: ms })),
  })
}

function isTimeout(err: unknown): boolean {
  return /Timeout \(\d+ms\)/.test(String(err))
}

export function registrySchemaSource(url: string, options: RegistryOptions = {}): SchemaSource {
  const { requestTimeoutMs = 10_000, timeoutRetries = 3 } = options
  const registry = new SchemaRegistry({
    host: url,
    retry: { retries: 3 },
    middlewares: [timeoutAfter(requestTimeoutMs)],
  })
  const call = <T>(work: () => Promise<T>) =>
    retry(
      () =>
        work().catch((err) => {
          throw isTimeout(err) ? Object.assign(err as Error, { retriable: true }) : err
        }),
      { retries: timeoutRetries, initialDelayMs: 100 },
    )
  return {
    async register(subject, schema) {
      try {
        const { id } = await call(() =>
          registry.register(
            { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
            { subject, compatibility: COMPATIBILITY.BACKWARD },
          ),
        )
        return id
      } catch (err) {
        if (status(err) === 409 || /incompatible/i.test(String(err))) {
          throw new ImflowError(
            'IMF_ERR_SCHEMA_INCOMPATIBLE',
            `The schema for subject ${subject} is not BACKWARD compatible with its latest registered version: ${String(err)}`,
            { cause: err },
          )
        }
        throw new ImflowError(
          'IMF_ERR_REGISTRY_UNAVAILABLE',
          `Registering subject ${subject} at ${url} failed: ${String(err)}`,
          { cause: err },
        )
      }
    },
    async schemaById(id) {
      try {
        const type = await call(() => registry.getSchema(id))
        return (type as unknown as { schema(): AvroSchema }).schema()
      } catch (err) {
        if (status(err) === 404 || /not found/i.test(String(err))) {
          throw new ImflowError(
            'IMF_ERR_UNKNOWN_SCHEMA',
            `The registry at ${url} has no schema with id ${id}`,
            {
              cause: err,
            },
          )
        }
        throw new ImflowError(
          'IMF_ERR_REGISTRY_UNAVAILABLE',
          `Fetching schema ${id} from ${url} failed: ${String(err)}`,
          {
            cause: err,
          },
        )
      }
    },
  }
}

/** Schemas kept in memory: ids given in registration order, one per distinct schema. */
export function memorySchemaSource(): SchemaSource {
  const ids = new Map<string, number>()
  const schemas: AvroSchema[] = []
  return {
    async register(_subject, schema) {
      const text = JSON.stringify(schema)
      let id = ids.get(text)
      if (id === undefined) {
        schemas.push(schema)
        id = schemas.length
        ids.set(text, id)
      }
      return id
    },
    async schemaById(id) {
      const schema = schemas[id - 1]
      if (!schema) throw new ImflowError('IMF_ERR_UNKNOWN_SCHEMA', `no schema with id ${id}`)
      return schema
    },
  }
}
