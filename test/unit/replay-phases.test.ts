// Which phases a resumed replay runs, and how: none is set twice (docs/replay.md, "An
// interrupted replay").

import { describe, expect, it } from 'vitest'
import { phaseStep } from '../../ops/app/commands/replay/replay-phases.js'

const steps = (count: number, started: number) =>
  Array.from({ length: count }, (_, i) => phaseStep(i, started))

describe('replay phases on resume', () => {
  it('sets every phase of a new replay', () => {
    expect(steps(2, 0)).toEqual(['set', 'set'])
  })

  it('resumes the last phase started without setting it, and sets the ones after', () => {
    expect(steps(2, 1)).toEqual(['resume', 'set'])
    expect(steps(2, 2)).toEqual(['done', 'resume'])
    expect(steps(3, 2)).toEqual(['done', 'resume', 'set'])
  })
})
