// `imflow digest`: a digest per store and partition of an app id's committed state, read from
// the stores' changelogs (no running app needed), to compare two runs: a replay `--into` a new
// app id against the original (docs/replay.md).

import { ImflowError } from '../../errors.js'
import { runtimeId } from '../provision-topics.js'
import { chooseTopologies, topologyNames } from './replay/app-logs.js'
import { digestApp, digestTable } from './replay/digest-app.js'
import { connect, parseWithSettings } from './replay/tool-config.js'

export const digestUsage = `Usage: imflow digest [--app-id <id>] [--topology <name>...] [--json]

Prints a digest of each store partition's committed state: every store's changelog read
(read_committed) to its current end, the latest value per key, summed as hashes of key and
value, so the order things were written in does not matter. Two runs with equal digests hold
the same state. Run it while the app is stopped (an open transaction stalls the read).
  --app-id <id>        the application id (default IMFLOW_APP_ID, else imflow)
  --topology <name>    only this topology (repeatable): ${topologyNames.join(', ')}
  --json               one JSON array instead of the table
Takes the server's settings too (--brokers, --topic-prefix, ...; see imflow --help).`

export async function digestCommand(argv: string[]): Promise<number> {
  const { parsed, config } = parseWithSettings('digest', argv, {
    topology: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  })
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(`${digestUsage}\n`)
    return 0
  }
  if (positionals.length > 0) {
    throw new ImflowError('IMF_ERR_USAGE', `imflow digest: unexpected argument "${positionals[0]}"`)
  }
  const topologies = chooseTopologies(values.topology as string[] | undefined)
  const deployment = await connect(config())
  try {
    const rows = await digestApp(
      deployment.kafka,
      deployment.admin,
      runtimeId(deployment.config),
      topologies,
    )
    process.stdout.write(`${values.json ? JSON.stringify(rows, null, 2) : digestTable(rows)}\n`)
    return 0
  } finally {
    await deployment.close()
  }
}
