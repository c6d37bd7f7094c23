// Runs the benchmarks named on the command line (all when none): npm run bench -- [name...]

import { codecBench } from './codec.js'
import { receiverBench } from './receiver.js'
import { runtimeBench } from './runtime.js'
import { shapingBench } from './shaping.js'
import { syncBench } from './sync.js'

const benches: Record<string, () => Promise<string>> = {
  codec: codecBench,
  runtime: runtimeBench,
  receiver: receiverBench,
  sync: syncBench,
  shaping: shapingBench,
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !benches[name])
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}\n`,
  )
  process.exit(2)
}
for (const name of wanted.length > 0 ? wanted : Object.keys(benches)) {
  process.stdout.write(`${await (benches[name] as () => Promise<string>)()}\n\n`)
}
