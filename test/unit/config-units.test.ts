// IMFLOW_REMOTE_UNITS: parsed once, unit numbers normalised, and never this deployment itself.

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

describe('IMFLOW_REMOTE_UNITS', () => {
  it('reads unit=prefix pairs, "01" being unit 1', () => {
    expect(loadConfig({}).remoteUnits).toEqual({})
    expect(loadConfig({ IMFLOW_REMOTE_UNITS: '01=b., 2=c.' }).remoteUnits).toEqual({
      '1': 'b.',
      '2': 'c.',
    })
  })

  it('refuses what is no unit=prefix, or a unit past 31', () => {
    expect(configError({ IMFLOW_REMOTE_UNITS: 'eu=b.' })).toContain(
      'IMFLOW_REMOTE_UNITS="eu=b.": "eu=b." is not unit=prefix',
    )
    expect(configError({ IMFLOW_REMOTE_UNITS: '32=b.' })).toContain('a unit from 0 to 31')
  })

  it('refuses this deployment’s own unit, or its own topic prefix', () => {
    expect(configError({ IMFLOW_UNIT: '1', IMFLOW_REMOTE_UNITS: '1=b.' })).toContain(
      "IMFLOW_REMOTE_UNITS names this deployment's own unit 1 (IMFLOW_UNIT)",
    )
    expect(configError({ IMFLOW_TOPIC_PREFIX: 'a.', IMFLOW_REMOTE_UNITS: '1=a.' })).toContain(
      'gives unit 1 this deployment\'s own topic prefix "a."',
    )
    expect(loadConfig({ IMFLOW_UNIT: '0', IMFLOW_REMOTE_UNITS: '1=b.' }).remoteUnits).toEqual({
      '1': 'b.',
    })
  })
})

describe('IMFLOW_REMOTE_UNIT_URLS', () => {
  it('reads unit=url pairs for units listed in IMFLOW_REMOTE_UNITS', () => {
    const env = { IMFLOW_UNIT: '0', IMFLOW_REMOTE_UNITS: '1=b.' }
    expect(
      loadConfig({ ...env, IMFLOW_REMOTE_UNIT_URLS: '01=http://10.0.0.3:8080' }).remoteUnitUrls,
    ).toEqual({ '1': 'http://10.0.0.3:8080' })
    expect(configError({ ...env, IMFLOW_REMOTE_UNIT_URLS: '2=http://10.0.0.4:8080' })).toContain(
      'IMFLOW_REMOTE_UNIT_URLS names unit 2, which is not in IMFLOW_REMOTE_UNITS',
    )
    expect(configError({ ...env, IMFLOW_REMOTE_UNIT_URLS: 'one=http://x' })).toContain(
      'is not unit=url',
    )
  })
})

describe('IMFLOW_SYSTEM_ACCOUNTS', () => {
  it('reads a comma-separated list of user ids, none by default', () => {
    expect(loadConfig({}).systemAccounts).toEqual([])
    expect(loadConfig({ IMFLOW_SYSTEM_ACCOUNTS: 'system, billing-bot,' }).systemAccounts).toEqual([
      'system',
      'billing-bot',
    ])
  })
})
