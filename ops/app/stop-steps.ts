// What an app started, stopped in reverse order, each step named: a stop that hangs says
// where ("still stopping <what>"), and an error in one step does not keep the others running.

import type { Logger } from '../log.js'

/** A step that takes longer than this is named in a warning, once. */
const SLOW_STOP_MS = 15_000

export class StopSteps {
  private readonly steps: [string, () => Promise<void>][] = []

  constructor(private readonly log: Logger) {}

  push(what: string, step: () => Promise<void>): void {
    this.steps.push([what, step])
  }

  /** Runs every step pushed so far, the last first; each once. */
  async stop(): Promise<void> {
    for (const [what, step] of this.steps.reverse().splice(0)) {
      this.log.info('stopping', { what })
      const slow = setTimeout(() => this.log.warn('still stopping', { what }), SLOW_STOP_MS)
      await step()
        .catch((err) => this.log.error('error while stopping', { what, err: String(err) }))
        .finally(() => clearTimeout(slow))
    }
  }
}
