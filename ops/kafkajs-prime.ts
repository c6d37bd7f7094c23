// kafkajs binds its internal modules when its code loads (require at the top of each file), so
// a fix to one of them must be in the require cache before kafkajs loads: every entry point
// imports ops/kafkajs-fixes.ts first. prime() puts a module's replacement there.

import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** Puts `exports` in the require cache as kafkajs' module `path`; false when kafkajs loaded it first. */
export function prime(path: string, exports: unknown): boolean {
  const target = require.resolve(path)
  const cached = require.cache[target]
  if (cached !== undefined) return cached.exports === exports
  const Module = require('node:module') as { new (id: string): NodeJS.Module }
  const primed = new Module(target)
  primed.filename = target
  primed.loaded = true
  primed.exports = exports
  require.cache[target] = primed
  return true
}

/** Whether kafkajs' module `path` is the replacement. */
export function isPrimed(path: string, exports: unknown): boolean {
  return require(path) === exports
}
