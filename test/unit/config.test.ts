import { describe, expect, it } from 'vitest'
import { describeSettings, loadConfig, settings } from '../../ops/app/config.js'
import { isImflowError } from '../../ops/errors.js'

function configError(env: Record<string, string>, flags = {}): string {
  try {
    loadConfig(env, flags)
  } catch (err) {
    if (isImflowError(err, 'IMF_ERR_CONFIG')) return err.message
    throw err
  }
  throw new Error('expected the configuration to be refused')
}

describe('loadConfig', () => {
  it('defaults to the embedded one-machine setup', () => {
    const c = loadConfig({})
    expect(c.kafkaBrokers).toBeUndefined()
    expect(c.schemaRegistryUrl).toBeUndefined()
    expect(c).toMatchObject({
      apiHost: '127.0.0.1',
      apiPort: 8080,
      embeddedKafkaPort: 9092,
      embeddedRegistryPort: 8081,
    })
    expect(c.partitions).toBe(6)
    expect(c.replicationFactor).toBe(1)
    expect(Object.isFrozen(c)).toBe(true)
  })

  it('reads the environment, and flags win over it', () => {
    const c = loadConfig(
      {
        KAFKA_BROKERS: 'a:9092, b:9093',
        SCHEMA_REGISTRY_URL: 'http://reg:8081/apis/ccompat/v7/',
        IMFLOW_PORT: '9000',
      },
      { port: '9100' },
    )
    expect(c.kafkaBrokers).toEqual(['a:9092', 'b:9093'])
    expect(c.schemaRegistryUrl).toBe('http://reg:8081/apis/ccompat/v7')
    expect(c.apiPort).toBe(9100)
  })

  it('names the setting, the bad value and what is expected', () => {
    const message = configError({ IMFLOW_PORT: '80a', KAFKA_BROKERS: 'localhost' })
    expect(message).toContain('IMFLOW_PORT="80a": expected a whole number')
    expect(message).toContain('KAFKA_BROKERS="localhost": "localhost" is not host:port')
  })

  it('takes a transaction per task or per thread, thread by default', () => {
    expect(loadConfig({}).transactionScope).toBe('thread')
    expect(loadConfig({ IMFLOW_TRANSACTION_SCOPE: 'task' }).transactionScope).toBe('task')
    expect(configError({ IMFLOW_TRANSACTION_SCOPE: 'process' })).toContain(
      'IMFLOW_TRANSACTION_SCOPE="process": expected task or thread',
    )
  })

  it('names the flag when the bad value came from a flag', () => {
    expect(configError({}, { partitions: '0' })).toContain(
      '--partitions="0": expected a number of at least 1',
    )
  })

  it('rejects out-of-range ports, bad URLs, heaps and log levels', () => {
    expect(configError({ IMFLOW_KAFKA_PORT: '70000' })).toContain('between 1 and 65535')
    expect(configError({ SCHEMA_REGISTRY_URL: 'ftp://x' })).toContain('expected http or https')
    expect(configError({ IMFLOW_KAFKA_HEAP: 'lots' })).toContain('like 512m or 1g')
    expect(configError({ IMFLOW_LOG_LEVEL: 'loud' })).toContain(
      'expected one of debug, info, warn, error',
    )
    expect(configError({ IMFLOW_APP_ID: 'my app' })).toContain('Kafka-safe name')
  })

  it('applies cross-field rules: replication on the embedded broker, port clashes', () => {
    expect(configError({ IMFLOW_REPLICATION: '3' })).toContain('the replication factor must be 1')
    expect(loadConfig({ IMFLOW_REPLICATION: '3', KAFKA_BROKERS: 'k:9092' }).replicationFactor).toBe(
      3,
    )
    expect(configError({ IMFLOW_PORT: '9092' })).toContain(
      'IMFLOW_PORT and IMFLOW_KAFKA_PORT are both 9092',
    )
    expect(loadConfig({ IMFLOW_PORT: '9092', KAFKA_BROKERS: 'k:9092' }).apiPort).toBe(9092)
  })

  it('reports every problem at once', () => {
    const message = configError({ IMFLOW_PORT: 'x', IMFLOW_PARTITIONS: 'y' })
    expect(message).toContain('IMFLOW_PORT')
    expect(message).toContain('IMFLOW_PARTITIONS')
  })

  it('documents every setting in --help', () => {
    const help = describeSettings()
    for (const s of settings) {
      expect(help).toContain(`--${s.flag}, ${s.env}`)
    }
  })
})

describe('the README configuration table', () => {
  it('lists every setting with its flag', async () => {
    const { readFile } = await import('node:fs/promises')
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    for (const s of settings) {
      expect(readme).toMatch(new RegExp(`\\|\\s*\`${s.env}\`\\s*\\|\\s*\`--${s.flag}\`\\s*\\|`))
    }
  })
})
