#!/usr/bin/env node
// First, before kafkajs loads: its read_committed filter leaks aborted records (see there).
import '../kafkajs-fixes.js'
import { main } from './cli.js'

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(
      `imflow: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    process.exit(1)
  },
)
