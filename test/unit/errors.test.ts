import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { errorCodes, ImflowError } from '../../ops/errors.js'

describe('the error catalogue', () => {
  it('documents every code in docs/errors.md, and documents no code that does not exist', async () => {
    const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    const documented = [...doc.matchAll(/^## (IMF_ERR_[A-Z_]+)/gm)].map((m) => m[1])
    expect(documented.sort()).toEqual(Object.keys(errorCodes).sort())
  })

  it('gives each error its code, retriable flag and HTTP status', () => {
    const err = new ImflowError('IMF_ERR_KAFKA_UNAVAILABLE', 'down')
    expect(err).toBeInstanceOf(Error)
    expect(err).toMatchObject({ code: 'IMF_ERR_KAFKA_UNAVAILABLE', retriable: true, status: 503 })
    expect(new ImflowError('IMF_ERR_CONFIG', 'bad').retriable).toBe(false)
  })
})
