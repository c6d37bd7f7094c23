// Port checks for the embedded servers: a taken port is reported before a JVM is started,
// with what to do about it, instead of as a bind exception deep in a server log.

import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

/**
 * Ports handed out below Linux's ephemeral range (32768-60999): the kernel gives those to
 * outgoing connections too, and one of the many a broker's clients open could take a port
 * chosen there in the seconds before a JVM binds it (seen: the embedded broker's controller
 * port, "Address already in use", on a busy machine).
 */
const CHOSEN_PORTS = { from: 20_000, to: 32_000 }
const CHOICE_ATTEMPTS = 50

/**
 * Ports this process handed out. Each stays free until its server binds it, so two asks in a
 * row could get the same one (seen: the embedded broker and registry given one port).
 */
const handedOut = new Set<number>()
/**
 * Ports handed out by any process on this machine, a file each, kept from the others for a
 * while: another process could otherwise take one in the moment before its server binds, or
 * while it is unbound between a stop and a start on the same port (seen: a test's app
 * restarted on its port found it taken by a test in another worker).
 */
const RESERVATIONS = join(tmpdir(), 'imflow-ports')
const RESERVED_MS = 30 * 60_000

/** A port that was free a moment ago: a random one below the ephemeral range, else the kernel's. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < CHOICE_ATTEMPTS; attempt++) {
    const port =
      CHOSEN_PORTS.from + Math.floor(Math.random() * (CHOSEN_PORTS.to - CHOSEN_PORTS.from))
    if (!handedOut.has(port) && reservePort(port) && (await canListen(host, port)))
      return handOut(port)
  }
  for (;;) {
    const port = await listenOn(host, 0)
    if (!handedOut.has(port) && reservePort(port)) return handOut(port)
  }
}

function handOut(port: number): number {
  handedOut.add(port)
  return port
}

/** False while another process holds the port's reservation (for a while); true once this one does. */
export function reservePort(port: number): boolean {
  const file = join(RESERVATIONS, String(port))
  try {
    mkdirSync(RESERVATIONS, { recursive: true })
    writeFileSync(file, String(process.pid), { flag: 'wx' })
    return true
  } catch (err) {
    // No place for reservations (a read-only temp folder): the bind check alone decides.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true
  }
  try {
    if (Date.now() - statSync(file).mtimeMs < RESERVED_MS) return false
    writeFileSync(file, String(process.pid)) // an old one: taken over
    return true
  } catch {
    return true
  }
}

function canListen(host: string, port: number): Promise<boolean> {
  return listenOn(host, port).then(
    () => true,
    () => false,
  )
}

/** Binds host:port (0: any), closes again, and tells which port it was. */
function listenOn(host: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address()
      const bound = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(bound))
    })
  })
}
