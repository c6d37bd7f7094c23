// Runs the benchmarks named on the command line (all when none) and writes the report:
// npm run bench -- [name...]   (the same as `imflow bench [name...]`; see bench/runner.ts)

// First, before kafkajs loads (ops/kafkajs-fixes.ts).
import '../ops/kafkajs-fixes.js'
import { benches, runBenches, unknownBenches } from './runner.js'

const wanted = process.argv.slice(2)
const unknown = unknownBenches(wanted)
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}\n`,
  )
  process.exit(2)
}
await runBenches(wanted, {
  command: `npm run bench${wanted.length ? ` -- ${wanted.join(' ')}` : ''}`,
})
