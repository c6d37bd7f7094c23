#!/usr/bin/env node
// `npx imflow`: the command line straight from its TypeScript sources through tsx, so a fresh
// clone needs no build step. tsx is registered in this process (not a child), so signals
// (Ctrl-C stopping `imflow start`) reach the CLI directly.
import { register } from 'tsx/esm/api'

register()
await import('../ops/app/bin.ts')
