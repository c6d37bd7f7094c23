// kafkajs binds its internal modules when its code loads (require at the top of each file), so
// a fix to one of them must be in the require cache before kafkajs loads: every entry point
// imports ops/kafkajs-fixes.ts first. prime() puts a module's replacement there.

import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** Puts `exports` in the require cache as kafkajs' module `path`, unless kafkajs loaded it already. */
export function prime(path: string, exports: unknown): void {
  const target = require.resolve(path)
  if (require.cache[target] !== undefined) return
  const Module = require('node:module') as { new (id: string): NodeJS.Module }
  const primed = new Module(target)
  primed.filename = target
  primed.loaded = true
  primed.exports = exports
  require.cache[target] = primed
}

/** Whether kafkajs' module `path` is the replacement (after prime(): false if kafkajs loaded first). */
export function isPrimed(path: string, exports: unknown): boolean {
  return require(path) === exports
}
