// Stores today's self-contained schemas as the compatibility baseline (schemas/baseline/).
// Run it when a version of the contract ships: later changes must stay BACKWARD compatible
// with it (test/unit/evolution.test.ts, test/integration/schema-evolution.test.ts).

import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { avroSchemas } from './avro-schemas.js'

const dir = fileURLToPath(new URL('./baseline/', import.meta.url))
for (const [name, schema] of avroSchemas) {
  writeFileSync(`${dir}${name}.avsc`, `${JSON.stringify(schema, null, 2)}\n`)
}
process.stdout.write(`wrote ${avroSchemas.size} schemas to ${dir}\n`)
