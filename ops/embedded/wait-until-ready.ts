import { ImflowError } from '../errors.js'
import type { JvmProcess } from './jvm-process.js'

/**
 * Polls `probe` until it succeeds, the server process exits (an error quoting its log), or
 * the deadline passes. Bounded: a server that never answers fails the start, it never hangs.
 */
export async function waitUntilReady(options: {
  what: string
  process: JvmProcess
  timeoutMs: number
  probe: () => Promise<void>
  intervalMs?: number
}): Promise<void> {
  const { what, process: jvm, timeoutMs } = options
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    if (jvm.hasExited()) {
      throw new ImflowError(
        'IMF_ERR_SERVER_EXITED',
        `${what} exited while starting (exit code ${await jvm.exited}). Its last lines:\n${jvm.logTail()}`,
      )
    }
    try {
      await options.probe()
      return
    } catch (err) {
      lastError = err
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250))
  }
  throw new ImflowError(
    'IMF_ERR_SERVER_TIMEOUT',
    `${what} did not answer within ${timeoutMs / 1000}s (last probe error: ${String(lastError)}). Its last lines:\n${jvm.logTail()}`,
  )
}
