import { describe, expect, it } from 'vitest'
import { ImflowError } from '../../ops/errors.js'
import { retry } from '../../ops/retry.js'

describe('retry', () => {
  it('retries retriable errors until the work succeeds', async () => {
    let calls = 0
    const value = await retry(
      async () => {
        calls++
        if (calls < 3) throw new ImflowError('IMF_ERR_KAFKA_UNAVAILABLE', 'down')
        return 'up'
      },
      { initialDelayMs: 1 },
    )
    expect(value).toBe('up')
    expect(calls).toBe(3)
  })

  it('does not retry an error that is not retriable', async () => {
    let calls = 0
    const err = await retry(async () => {
      calls++
      throw new ImflowError('IMF_ERR_CONFIG', 'bad')
    }).catch((e) => e)
    expect(err.code).toBe('IMF_ERR_CONFIG')
    expect(calls).toBe(1)
  })

  it('gives up after the configured number of retries', async () => {
    let calls = 0
    await expect(
      retry(
        async () => {
          calls++
          throw Object.assign(new Error('still down'), { retriable: true })
        },
        { retries: 2, initialDelayMs: 1 },
      ),
    ).rejects.toThrow('still down')
    expect(calls).toBe(3)
  })
})
