import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { findJava, parseJavaMajor } from '../../ops/embedded/java.js'
import { isImflowError } from '../../ops/errors.js'

describe('parseJavaMajor', () => {
  it('reads modern and legacy version strings', () => {
    expect(parseJavaMajor('openjdk version "17.0.15" 2025-04-15')).toBe(17)
    expect(parseJavaMajor('openjdk version "25" 2025-09-16')).toBe(25)
    expect(parseJavaMajor('java version "1.8.0_392"')).toBe(8)
    expect(parseJavaMajor('openjdk version "21-ea" 2023-09-19')).toBe(21)
    expect(parseJavaMajor('no java here')).toBeUndefined()
  })
})

describe('findJava', () => {
  it('fails with IMF_ERR_JAVA_MISSING when nothing is found, saying where it looked', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'imflow-nojava-'))
    try {
      const err = await findJava(17, 'Kafka', { env: { PATH: empty }, jvmRoots: [empty] }).catch(
        (e) => e,
      )
      expect(isImflowError(err, 'IMF_ERR_JAVA_MISSING')).toBe(true)
      expect(err.message).toContain('Kafka needs Java 17 or newer')
      expect(err.message).toContain('searched JAVA_HOME, PATH and /usr/lib/jvm')
    } finally {
      await rm(empty, { recursive: true })
    }
  })

  it('skips a Java that is too old and says which it found', async () => {
    const err = await findJava(999, 'A future server').catch((e) => e)
    expect(isImflowError(err, 'IMF_ERR_JAVA_MISSING')).toBe(true)
    expect(err.message).toMatch(/found only .*\(Java \d+\)/)
  })
})
