// IMFLOW_MERGE_WINDOW_*: defaults (a minute for large groups, 200 ms for small ones), down to
// a millisecond, and a small window never longer than the large one.

import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../ops/app/config.js'
import { isImflowError } from '../../ops/errors.js'

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (err) {
    if (isImflowError(err, 'IMF_ERR_CONFIG')) return err.message
    throw err
  }
  throw new Error('expected the configuration to be refused')
}

describe('IMFLOW_MERGE_WINDOW_*', () => {
  it('defaults to 60 s for large groups, 200 ms for small ones and 100 ms of grace', () => {
    expect(loadConfig({})).toMatchObject({
      mergeWindowLargeMs: 60_000,
      mergeWindowSmallMs: 200,
      mergeWindowGraceMs: 100,
    })
  })

  it('goes down to a millisecond (and no grace) for tests', () => {
    expect(
      loadConfig({
        IMFLOW_MERGE_WINDOW_LARGE_MS: '5',
        IMFLOW_MERGE_WINDOW_SMALL_MS: '1',
        IMFLOW_MERGE_WINDOW_GRACE_MS: '0',
      }),
    ).toMatchObject({ mergeWindowLargeMs: 5, mergeWindowSmallMs: 1, mergeWindowGraceMs: 0 })
  })

  it('refuses an empty window and a small window longer than the large one', () => {
    expect(configError({ IMFLOW_MERGE_WINDOW_SMALL_MS: '0' })).toContain(
      'IMFLOW_MERGE_WINDOW_SMALL_MS="0": expected a number of at least 1',
    )
    expect(
      configError({ IMFLOW_MERGE_WINDOW_SMALL_MS: '2000', IMFLOW_MERGE_WINDOW_LARGE_MS: '1000' }),
    ).toContain('IMFLOW_MERGE_WINDOW_SMALL_MS=2000 is above IMFLOW_MERGE_WINDOW_LARGE_MS=1000')
  })
})
