// Where the codec gets schema ids and writer schemas: a narrow interface with the real
// schema registry behind it (through @kafkajs/confluent-schema-registry) and an in-memory
// one for pure unit tests and benchmarks of the codec itself.

import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import { ImflowError } from '../ops/errors.js'
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

export function registrySchemaSource(url: string): SchemaSource {
  const registry = new SchemaRegistry({ host: url, retry: { retries: 3 } })
  return {
    async register(subject, schema) {
      try {
        const { id } = await registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
          { subject, compatibility: COMPATIBILITY.BACKWARD },
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
        const type = await registry.getSchema(id)
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
