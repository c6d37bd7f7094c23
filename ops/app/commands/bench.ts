// `imflow bench [name...]`: the benchmarks (bench/), each against a baseline from the same
// run, with the report written under bench/results/.

import { benches, runBenches, unknownBenches } from '../../../bench/runner.js'
import { ImflowError } from '../../errors.js'
import { parseToolArgs } from './args.js'

export const benchUsage = `Usage: imflow bench [name...]

Runs every benchmark, or the ones named (${Object.keys(benches).join(', ')}), each reporting
ratios to a baseline measured in the same run; uses KAFKA_BROKERS when set, else starts an
embedded broker. Writes bench/results/<time>/results.{md,json}, ratios.svg and
bench/results/latest.md.`

export async function benchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseToolArgs('bench', argv, {
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help) {
    process.stdout.write(`${benchUsage}\n`)
    return 0
  }
  const unknown = unknownBenches(positionals)
  if (unknown.length > 0) {
    throw new ImflowError(
      'IMF_ERR_USAGE',
      `imflow bench: unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}`,
    )
  }
  await runBenches(positionals, { command: `imflow bench ${positionals.join(' ')}`.trim() })
  return 0
}
