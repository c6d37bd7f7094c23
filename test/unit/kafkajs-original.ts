// kafkajs' own module where imflow primed a replacement (ops/kafkajs-prime.ts): compiled afresh
// from its file, as the require cache holds ours. The replacements' tests compare against it.

import { readFileSync } from 'node:fs'
import Module, { createRequire } from 'node:module'
import { dirname } from 'node:path'

const require = createRequire(import.meta.url)

export function kafkajsOriginal<T>(path: string): T {
  const file = require.resolve(path)
  type Compilable = NodeJS.Module & { _compile(code: string, file: string): void }
  const M = Module as unknown as {
    new (id: string): Compilable
    _nodeModulePaths(dir: string): string[]
  }
  const original = new M(file)
  original.filename = file
  original.paths = M._nodeModulePaths(dirname(file))
  original._compile(readFileSync(file, 'utf8'), file)
  return original.exports as T
}
