// Port checks for the embedded servers: a taken port is reported before a JVM is started,
// with what to do about it, instead of as a bind exception deep in a server log.

import { createServer } from 'node:net'
import { ImflowError } from './errors.js'

/** Resolves when host:port can be bound; rejects with IMF_ERR_PORT_IN_USE naming the fix. */
export async function assertPortFree(
  host: string,
  port: number,
  what: string,
  fix: string,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        reject(
          new ImflowError(
            'IMF_ERR_PORT_IN_USE',
            `${what} cannot listen on ${host}:${port}: the port is ${err.code === 'EACCES' ? 'not permitted' : 'already in use'}. ${fix}`,
          ),
        )
      } else reject(err)
    })
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()))
  })
}

/** A port that was free a moment ago, chosen by the kernel. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
