// Runs the benchmarks named (all when none) and writes the report under bench/results/:
// <timestamp>/results.{json,md} and ratios.svg, and latest.md and latest.svg for the newest run.
// Used by `npm run bench -- [name...]` (bench/run.ts) and `imflow bench [name...]`.

import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg, totalmem } from 'node:os'
import { join, relative } from 'node:path'
import { backfillBench } from './backfill.js'
import { bigroomBench } from './bigroom.js'
import { codecBench } from './codec.js'
import { coordinatorsBench } from './coordinators.js'
import { fencedOffsetsBench } from './fenced-offsets.js'
import { mergeBench } from './merge.js'
import { receiverBench } from './receiver.js'
import { replayBench } from './replay.js'
import { type BenchRun, markdown, ratioChart } from './report.js'
import { type BenchResult, fromText } from './result.js'
import { runtimeBench } from './runtime.js'
import { shapingBench } from './shaping.js'
import { stableOffsetsBench } from './stable-offsets.js'
import { syncBench } from './sync.js'
import { threadsBench } from './threads.js'
import { transactionScopeBench } from './transaction-scope.js'
import { unitsBench } from './units.js'

/** A benchmark returns structured figures, or (until it does) text with "= N x" ratios. */
export const benches: Record<string, () => Promise<BenchResult | string>> = {
  codec: codecBench,
  runtime: runtimeBench,
  receiver: receiverBench,
  sync: syncBench,
  bigroom: bigroomBench,
  merge: mergeBench,
  shaping: shapingBench,
  threads: threadsBench,
  replay: replayBench,
  backfill: backfillBench,
  units: unitsBench,
  'fenced-offsets': fencedOffsetsBench,
  coordinators: coordinatorsBench,
  'stable-offsets': stableOffsetsBench,
  'transaction-scope': transactionScopeBench,
}

export const resultsDir = new URL('./results/', import.meta.url).pathname

export function unknownBenches(names: readonly string[]): string[] {
  return names.filter((name) => !benches[name])
}

export async function runBenches(
  names: readonly string[],
  options: {
    command: string
    dir?: string
    write?: (text: string) => void
    /** The benchmarks to pick from (tests give their own). */
    from?: Record<string, () => Promise<BenchResult | string>>
  } = { command: 'npm run bench' },
): Promise<{ run: BenchRun; folder: string }> {
  const write = options.write ?? ((text) => process.stdout.write(text))
  const dir = options.dir ?? resultsDir
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const run: BenchRun = {
    startedAt,
    command: options.command,
    machine: {
      node: process.versions.node,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      loadAverage: loadavg()[0] as number,
    },
    results: [],
  }
  const from = options.from ?? benches
  for (const name of names.length > 0 ? names : Object.keys(from)) {
    const start = Date.now()
    const out = await (from[name] as () => Promise<BenchResult | string>)()
    const result = typeof out === 'string' ? fromText(out) : out
    write(`${result.text}\n\n`)
    run.results.push({ name, seconds: (Date.now() - start) / 1000, ...result })
  }
  const folder = join(dir, startedAt.replace(/:/g, '-'))
  await mkdir(folder, { recursive: true })
  const chart = ratioChart(run)
  if (chart) await writeFile(join(folder, 'ratios.svg'), chart)
  await writeFile(join(folder, 'results.json'), `${JSON.stringify(run, null, 2)}\n`)
  await writeFile(join(folder, 'results.md'), markdown(run, chart ? 'ratios.svg' : undefined))
  const latest = relative(dir, folder)
  if (chart) await writeFile(join(dir, 'latest.svg'), chart)
  await writeFile(
    join(dir, 'latest.md'),
    markdown(run, chart ? `${latest}/ratios.svg` : undefined).replace(
      /^# (.*)\n/,
      `# $1\n\nThe newest run; every run is kept in its own folder ([${latest}](${latest}/results.md)).\n`,
    ),
  )
  write(
    `report: ${join(folder, 'results.md')} (and results.json, ratios.svg); ${join(dir, 'latest.md')}\n`,
  )
  return { run, folder }
}
