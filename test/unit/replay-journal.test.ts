// A replay --into resumes only when run with the arguments its journal holds: another
// --from, --to or set of topologies is another replay (docs/replay.md).

import { describe, expect, it } from 'vitest'
import {
  assertSameArguments,
  describeArguments,
  type JournalEntry,
} from '../../ops/app/commands/replay/replay-journal.js'
import { isImflowError } from '../../ops/errors.js'

const journal: JournalEntry = {
  args: {
    from: { kind: 'time', ms: Date.UTC(2026, 10, 26, 8) },
    topologies: ['sync', 'receiver'],
  },
  plans: [],
  phasesStarted: 1,
  complete: false,
}

describe('replay journal', () => {
  it('accepts the same arguments, topologies in any order or repeated', () => {
    expect(() =>
      assertSameArguments(
        journal,
        { from: journal.args.from, topologies: ['receiver', 'sync', 'sync'] },
        'x',
      ),
    ).not.toThrow()
  })

  it('refuses other arguments, saying which the interrupted replay ran with', () => {
    const others = [
      { from: { kind: 'offset', offset: 0 } as const, topologies: ['receiver', 'sync'] },
      { from: journal.args.from, topologies: ['receiver'] },
      { from: journal.args.from, to: { kind: 'offset', offset: 9 } as const, topologies: ['sync'] },
    ]
    for (const args of others) {
      const err = (() => {
        try {
          assertSameArguments(journal, args, 'shadow')
        } catch (e) {
          return e
        }
      })()
      expect(isImflowError(err, 'IMF_ERR_USAGE')).toBe(true)
      expect((err as Error).message).toContain(
        'interrupted going into that app id with other arguments (--from 2026-11-26T08:00:00.000Z --topology receiver --topology sync)',
      )
    }
  })

  it('describes arguments as the command line takes them', () => {
    expect(
      describeArguments({
        from: { kind: 'offset', offset: 3 },
        to: { kind: 'time', ms: Date.UTC(2026, 0, 2) },
        topologies: ['inbox'],
      }),
    ).toBe('--from 3 --to 2026-01-02T00:00:00.000Z --topology inbox')
  })
})
