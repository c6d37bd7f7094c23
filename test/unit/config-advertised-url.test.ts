import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../ops/app/config.js'
import { isImflowError } from '../../ops/errors.js'

describe('IMFLOW_ADVERTISED_URL', () => {
  it('defaults to the API’s own host and port, flags included', () => {
    expect(loadConfig({}).advertisedUrl).toBe('http://127.0.0.1:8080')
    expect(loadConfig({ IMFLOW_HOST: '10.0.0.7' }, { port: '9000' }).advertisedUrl).toBe(
      'http://10.0.0.7:9000',
    )
    expect(loadConfig({ IMFLOW_HOST: '::1' }).advertisedUrl).toBe('http://[::1]:8080')
  })

  it('uses the host name when the API listens on every address', () => {
    expect(loadConfig({ IMFLOW_HOST: '0.0.0.0' }).advertisedUrl).toBe(`http://${hostname()}:8080`)
  })

  it('takes a URL, without a trailing slash, and refuses anything else', () => {
    expect(
      loadConfig({ IMFLOW_ADVERTISED_URL: 'https://imflow-2.internal:8443/' }).advertisedUrl,
    ).toBe('https://imflow-2.internal:8443')
    let message = ''
    try {
      loadConfig({ IMFLOW_ADVERTISED_URL: 'imflow-2:8080' })
    } catch (err) {
      if (isImflowError(err, 'IMF_ERR_CONFIG')) message = err.message
    }
    expect(message).toMatch(/IMFLOW_ADVERTISED_URL="imflow-2:8080": expected/)
  })
})
