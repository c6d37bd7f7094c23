// The layer rule (biome.json's noRestrictedImports overrides) rejects upward imports. Each case is
// a probe file with one import, written into a scratch copy of the layout (never the repo's own
// tree) and linted with the repo's biome.json; the test compares the files Biome flags.

import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const biome = join(root, 'node_modules', '.bin', 'biome')

/** [file placed in a layer, what it imports, whether the rule must reject it] */
const cases: readonly (readonly [string, string, boolean])[] = [
  // upward: each must fail
  ['ops/up-schemas.ts', '../schemas/codec.js', true],
  ['ops/up-topologies.ts', '../topologies/runtime/index.js', true],
  ['ops/up-connectors.ts', '../connectors/http/server.js', true],
  ['ops/up-state.ts', '../state/index.js', true],
  ['ops/up-app.ts', './app/config.js', true],
  ['ops/up-embedded.ts', './embedded/java.js', true],
  ['ops/embedded/up-app.ts', '../app/config.js', true],
  ['ops/embedded/up-topologies.ts', '../../topologies/runtime/index.js', true],
  ['schemas/up-app.ts', '../ops/app/config.js', true],
  ['schemas/up-topologies.ts', '../topologies/runtime/index.js', true],
  ['state/up-topologies.ts', '../topologies/runtime/index.js', true],
  ['state/up-connectors.ts', '../connectors/http/server.js', true],
  ['state/up-embedded.ts', '../ops/embedded/java.js', true],
  ['topologies/receiver/up-connectors.ts', '../../connectors/http/jwt.js', true],
  ['topologies/runtime/internal/up-app.ts', '../../../ops/app/config.js', true],
  ['topologies/inbox/into-receiver.ts', '../receiver/receiver.js', true],
  ['topologies/sync/into-inbox.ts', '../inbox/queries.js', true],
  ['topologies/runtime/up-receiver.ts', '../receiver/index.js', true],
  ['topologies/model/up-sync.ts', '../sync/index.js', true],
  ['topologies/sync/into-runtime.ts', '../runtime/internal/task.js', true],
  ['connectors/http/into-runtime.ts', '../../topologies/runtime/internal/runner.js', true],
  ['ops/app/into-runtime.ts', '../../topologies/runtime/internal/runner.js', true],
  ['connectors/http/up-app.ts', '../../ops/app/config.js', true],
  ['connectors/client/up-embedded.ts', '../../ops/embedded/fetch-jars.js', true],
  ['connectors/client/into-server.ts', '../../ops/errors.js', true],
  ['connectors/client/into-gateway.ts', '../push-gateway/sessions.js', true],
  ['connectors/protocol/into-http.ts', '../http/jwt.js', true],
  // downward or sideways within a layer: each must pass
  ['ops/down-retry.ts', './retry.js', false],
  ['ops/embedded/down-errors.ts', '../errors.js', false],
  ['schemas/down-errors.ts', '../ops/errors.js', false],
  ['state/down-log.ts', '../ops/log.js', false],
  ['topologies/receiver/down-state.ts', '../../state/index.js', false],
  ['topologies/receiver/down-runtime.ts', '../runtime/index.js', false],
  ['topologies/runtime/own-internal.ts', './internal/runner.js', false],
  ['topologies/runtime/internal/own.ts', '../topology.js', false],
  ['topologies/inbox/down-model.ts', '../model/index.js', false],
  ['topologies/inbox/through-index.ts', '../receiver/index.js', false],
  ['topologies/model/down-state.ts', '../../state/index.js', false],
  ['connectors/http/down-topologies.ts', '../../topologies/runtime/index.js', false],
  ['ops/app/down-connectors.ts', '../../connectors/http/server.js', false],
  ['ops/app/down-embedded.ts', '../embedded/java.js', false],
  ['connectors/client/down-protocol.ts', '../protocol/frames.js', false],
  ['connectors/client/down-contract.ts', '../../schemas/types.generated.js', false],
]

interface Diagnostic {
  category: string
  location: { path: string }
}

let scratch: string
let flagged: Set<string>

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'imflow-layers-'))
  await copyFile(join(root, 'biome.json'), join(scratch, 'biome.json'))
  for (const [file, from] of cases) {
    await mkdir(dirname(join(scratch, file)), { recursive: true })
    await writeFile(
      join(scratch, file),
      `import { probe } from '${from}'\n\nexport const used = probe\n`,
    )
  }
  // Biome exits 1 when it reports errors; the report on stdout is what we read.
  const { stdout } = await promisify(execFile)(
    biome,
    ['lint', '--vcs-enabled=false', '--reporter=json', '--max-diagnostics=none', '.'],
    { cwd: scratch },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  const report = JSON.parse(stdout) as { diagnostics: Diagnostic[] }
  flagged = new Set(
    report.diagnostics
      .filter((d) => d.category === 'lint/style/noRestrictedImports')
      .map((d) => d.location.path),
  )
}, 60_000)

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

describe('the layer rule', () => {
  it.each(cases.filter(([, , upward]) => upward))('rejects %s importing %s', (file) => {
    expect(flagged.has(file)).toBe(true)
  })

  it.each(cases.filter(([, , upward]) => !upward))('accepts %s importing %s', (file) => {
    expect(flagged.has(file)).toBe(false)
  })
})
