// `imflow replay`: reprocess the log from a time or offset, into the live app id (stopped) or
// into a new one beside it (a shadow run), with progress; docs/replay.md is the runbook.

import { ImflowError } from '../../errors.js'
import { chooseTopologies, topologyNames } from './replay/app-logs.js'
import { parsePosition } from './replay/reset-plan.js'
import { runReplay } from './replay/run-replay.js'
import { connect, parseWithSettings } from './replay/tool-config.js'

export const replayUsage = `Usage: imflow replay --from <time|offset> [--to <time|offset>] [--topology <name>...]
                     [--into <new app id>] [--dry-run]

Moves the topologies' consumer groups back on their inputs (im.ingest, im.conversations,
im.actions, im.device-events, im.users) and reprocesses from there in this process, showing
progress, until every input partition reached --to (default: its end now) and what the
topologies hand each other is read. Refused while instances of the app id run (stop them).
  --from <t|o>          an ISO time (2026-11-26T10:00:00Z) or an offset (every partition)
  --to <t|o>            where the replay is complete (default: each input's end now)
  --topology <name>     only these topologies (repeatable): ${topologyNames.join(', ')}
  --into <app id>       replay into a new app id: fresh stores and internal topics, the live
                        inputs, outputs to <prefix><app id>.im.* (live consumers see nothing);
                        the live app may keep running. Compare with: imflow digest --app-id
                        Interrupted, the same command again resumes it where it stopped.
  --dry-run             print what would be reset and how many records each partition replays
Takes the server's settings too (--brokers, --app-id, --topic-prefix, ...; imflow --help).
See docs/replay.md.`

export async function replayCommand(argv: string[]): Promise<number> {
  const { parsed, config } = parseWithSettings('replay', argv, {
    from: { type: 'string' },
    to: { type: 'string' },
    topology: { type: 'string', multiple: true },
    into: { type: 'string' },
    'dry-run': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  })
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(`${replayUsage}\n`)
    return 0
  }
  if (positionals.length > 0 || typeof values.from !== 'string') {
    throw new ImflowError(
      'IMF_ERR_USAGE',
      positionals.length > 0
        ? `imflow replay: unexpected argument "${positionals[0]}"`
        : 'imflow replay: --from <ISO time|offset> is required',
    )
  }
  const from = parsePosition(values.from, '--from')
  const to = typeof values.to === 'string' ? parsePosition(values.to, '--to') : undefined
  const topologies = chooseTopologies(values.topology as string[] | undefined)
  const deployment = await connect(config())
  const stop = new AbortController()
  const interrupt = () => stop.abort()
  process.once('SIGINT', interrupt)
  try {
    const result = await runReplay(deployment, {
      from,
      ...(to ? { to } : {}),
      topologies,
      ...(typeof values.into === 'string' ? { into: values.into } : {}),
      dryRun: values['dry-run'] === true,
      write: (text) => process.stdout.write(text),
      tty: process.stdout.isTTY === true,
      signal: stop.signal,
    })
    if (result.final) {
      const seconds = (result.elapsedMs / 1000).toFixed(1)
      const state = stop.signal.aborted ? 'interrupted' : 'complete'
      process.stdout.write(`\nreplay ${state}: ${result.final.done} records in ${seconds}s\n`)
      return stop.signal.aborted ? 130 : 0
    }
    return 0
  } finally {
    process.off('SIGINT', interrupt)
    await deployment.close()
  }
}
