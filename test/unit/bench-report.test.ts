import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { against, fromText } from '../../bench/result.js'
import { benches, runBenches } from '../../bench/runner.js'

describe('the benchmark list', () => {
  it('runs every benchmark bench/README.md lists, and lists every one it runs', async () => {
    const readme = await readFile(new URL('../../bench/README.md', import.meta.url), 'utf8')
    const listed = [...readme.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1])
    expect(listed.sort()).toEqual(Object.keys(benches).sort())
  })
})

describe('the benchmark report', () => {
  it('reads "= N x" comparisons from a benchmark that still returns text', () => {
    const { figures } = fromText(
      [
        'runtime: 100 records',
        '  kafkajs pass-through (baseline)      500 records/s',
        '  count-by-key, RocksDB + changelog + EOS 250 records/s  = 0.50 x pass-through',
      ].join('\n'),
    )
    expect(figures).toEqual([
      {
        label: 'count-by-key, RocksDB + changelog + EOS 250 records/s',
        value: 0.5,
        unit: 'x',
        ratio: 0.5,
      },
    ])
  })

  it('writes JSON, markdown, the ratio chart and latest.md for a run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imflow-bench-'))
    try {
      let printed = ''
      const base = { label: 'raw', value: 200 }
      const { run, folder } = await runBenches(['fast', 'old'], {
        command: 'imflow bench fast old',
        dir,
        write: (text) => {
          printed += text
        },
        from: {
          fast: async () => ({
            text: 'fast: 400/s against 200/s',
            figures: [{ ...base, unit: '/s' }, against('imflow', 400, '/s', base)],
          }),
          old: async () => 'old\n  thing   3 ms  = 12.00 x the raw hop',
          unused: async () => 'never run',
        },
      })
      expect(run.results.map((r) => r.name)).toEqual(['fast', 'old'])
      expect(run.results[0]?.figures[1]?.ratio).toBe(2)
      expect(printed).toContain('fast: 400/s against 200/s')
      expect((await readdir(folder)).sort()).toEqual(['ratios.svg', 'results.json', 'results.md'])
      const json = JSON.parse(await readFile(join(folder, 'results.json'), 'utf8'))
      expect(json.command).toBe('imflow bench fast old')
      const md = await readFile(join(folder, 'results.md'), 'utf8')
      expect(md).toContain('| imflow | 400 /s | raw | 2.00x |')
      expect(md).toContain('![ratios to the baselines](ratios.svg)')
      const svg = await readFile(join(folder, 'ratios.svg'), 'utf8')
      expect(svg).toContain('fast: imflow')
      expect(svg).toContain('12.00x')
      const latest = await readFile(join(dir, 'latest.md'), 'utf8')
      const name = folder.slice(dir.length + 1)
      expect(latest).toContain(`(${name}/results.md)`)
      expect(latest).toContain(`](${name}/ratios.svg)`)
      expect(await readFile(join(dir, 'latest.svg'), 'utf8')).toBe(svg)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
