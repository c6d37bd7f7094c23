// IMFLOW_REMOTE_GEOS: each geo's topic prefix and, when it differs, its app id; checked at
// start, and the topics forwarded to named with how to create each (remote-targets.ts).

import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../ops/app/config.js'
import { remoteTopicsOf } from '../../ops/app/remote-targets.js'
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

describe('IMFLOW_REMOTE_GEOS', () => {
  it('reads geo=prefix and geo=prefix:appid', () => {
    expect(loadConfig({}).remoteGeos).toEqual({})
    expect(loadConfig({ IMFLOW_REMOTE_GEOS: 'us=us.:imflow-us, ap=ap.' }).remoteGeos).toEqual({
      us: { prefix: 'us.', appId: 'imflow-us' },
      ap: { prefix: 'ap.' },
    })
  })

  it('refuses what is no geo=prefix[:appid], saying what would be', () => {
    expect(configError({ IMFLOW_REMOTE_GEOS: 'us=us.:' })).toContain(
      'IMFLOW_REMOTE_GEOS="us=us.:": "us=us.:" is not geo=prefix or geo=prefix:appid (for example us=us. or us=us.:imflow-us)',
    )
  })

  it('refuses a geo whose topics would be this deployment’s own', () => {
    expect(configError({ IMFLOW_APP_ID: 'imflow-eu', IMFLOW_REMOTE_GEOS: 'us=' })).toContain(
      'IMFLOW_REMOTE_GEOS gives geo us this deployment\'s own topics (prefix "", app id imflow-eu)',
    )
    // The same prefix under another app id is another deployment.
    expect(
      loadConfig({ IMFLOW_APP_ID: 'imflow-eu', IMFLOW_REMOTE_GEOS: 'us=:imflow-us' }).remoteGeos,
    ).toEqual({ us: { prefix: '', appId: 'imflow-us' } })
  })
})

describe('IMFLOW_REMOTE_GEO_URLS', () => {
  it('reads geo=url for geos of IMFLOW_REMOTE_GEOS only', () => {
    expect(
      loadConfig({
        IMFLOW_REMOTE_GEOS: 'us=us.',
        IMFLOW_REMOTE_GEO_URLS: 'us=http://10.0.0.2:8080/',
      }).remoteGeoUrls,
    ).toEqual({ us: 'http://10.0.0.2:8080' })
    expect(configError({ IMFLOW_REMOTE_GEO_URLS: 'us=http://10.0.0.2:8080' })).toContain(
      'IMFLOW_REMOTE_GEO_URLS names geo us, which is not in IMFLOW_REMOTE_GEOS',
    )
    expect(configError({ IMFLOW_REMOTE_GEO_URLS: 'us=ftp://x' })).toContain(
      'expected http or https',
    )
  })
})

describe('the topics forwarded to', () => {
  it('are each geo’s and unit’s inbound under its app id, and their contract topics', () => {
    const config = loadConfig({
      IMFLOW_APP_ID: 'imflow-eu',
      IMFLOW_REMOTE_GEOS: 'us=us.:imflow-us,ap=ap.',
      IMFLOW_REMOTE_UNITS: '1=b.',
    })
    const topics = remoteTopicsOf(config)
    expect(topics.map((t) => `${t.owner}: ${t.topic}`)).toEqual([
      'geo us: us.imflow-us-inbound',
      'geo us: us.im.ingest',
      'geo us: us.im.actions',
      'geo us: us.im.receipts',
      'geo us: us.im.rooms',
      'geo ap: ap.imflow-eu-inbound',
      'geo ap: ap.im.ingest',
      'geo ap: ap.im.actions',
      'geo ap: ap.im.receipts',
      'geo ap: ap.im.rooms',
      'unit 1: b.imflow-eu-inbound',
      'unit 1: b.im.ingest',
      'unit 1: b.im.conversations',
      'unit 1: b.im.actions',
      'unit 1: b.im.receipts',
      'unit 1: b.im.rooms',
    ])
    // A geo named without an app id: the fix says the likely cause first, then how to create it.
    expect(topics[5]?.fix).toBe(
      'If geo ap runs with another IMFLOW_APP_ID, name it in IMFLOW_REMOTE_GEOS (ap=ap.:<its app id>); else start that deployment, or create its topics: KAFKA_BROKERS=<these brokers> IMFLOW_TOPIC_PREFIX=ap. IMFLOW_APP_ID=imflow-eu imflow topics',
    )
    expect(topics[0]?.fix).toBe(
      'start that deployment, or create its topics: KAFKA_BROKERS=<these brokers> IMFLOW_TOPIC_PREFIX=us. IMFLOW_APP_ID=imflow-us imflow topics',
    )
  })
})
