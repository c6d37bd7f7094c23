// Regression: a random cluster id starting with "-" made `kafka-storage format -t <id>` fail
// ("argument --cluster-id/-t: expected one argument"), once in 64 starts.

import { describe, expect, it } from 'vitest'
import { clusterId } from '../../ops/embedded/embedded-kafka.js'

describe('embedded Kafka cluster ids', () => {
  it('are 22-character URL-safe base64 and never start with "-" (the storage tool would take it for an option)', () => {
    for (let i = 0; i < 5_000; i++) {
      const id = clusterId()
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/)
    }
  })
})
