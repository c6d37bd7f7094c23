// The tool commands: run against an imflow (or beside it) rather than being one, so they take
// their own flags instead of the server's settings. cli.ts hands argv to them unparsed.

import { isImflowError } from '../../errors.js'
import { createLogger } from '../../log.js'
import { tokenCommand } from './token.js'

export interface ToolCommand {
  summary: string
  run(argv: string[]): Promise<number>
}

export const toolCommands: Record<string, ToolCommand> = {
  token: {
    summary: 'Print an API token (JWT) for a user, signed with IMFLOW_JWT_SECRET.',
    run: tokenCommand,
  },
  demo: {
    summary: 'Drive realistic traffic through a running imflow and show what flows (--help).',
    // Loaded when used: `imflow start` does not pay for the demo's and benchmarks' modules.
    run: async (argv) => (await import('./demo.js')).demoCommand(argv),
  },
  digest: {
    summary: "Print a digest of each store partition's committed state, to compare runs (--help).",
    run: async (argv) => (await import('./digest.js')).digestCommand(argv),
  },
  replay: {
    summary: 'Reprocess the log from a time or offset, into this app id or a new one (--help).',
    run: async (argv) => (await import('./replay.js')).replayCommand(argv),
  },
  bench: {
    summary: 'Run the benchmarks (all, or those named) and write their report (--help).',
    run: async (argv) => (await import('./bench.js')).benchCommand(argv),
  },
}

/** Runs a tool command: a usage error exits 2, another imflow error 1, with its code. */
export async function runTool(name: string, command: ToolCommand, argv: string[]) {
  try {
    return await command.run(argv)
  } catch (err) {
    if (isImflowError(err) && err.code === 'IMF_ERR_USAGE') {
      process.stderr.write(`${err.message}\n(see imflow ${name} --help)\n`)
      return 2
    }
    const log = createLogger()
    if (isImflowError(err)) log.error(err.message, { code: err.code })
    else
      log.error(
        `unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      )
    return 1
  }
}
