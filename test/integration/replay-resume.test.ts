// `imflow replay --into` killed outright (SIGKILL) part way through, then run again with the
// same arguments: it reads its journal, says it resumes, resets nothing over what the killed
// run committed, and ends with every store's digest equal to the original app's
// (docs/replay.md, "An interrupted replay").

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { digestApp } from '../../ops/app/commands/replay/digest-app.js'
import type { Deployment } from '../../ops/app/commands/replay/tool-config.js'
import { createLogger } from '../../ops/log.js'
import type { ContractCodecs } from '../../schemas/contract.js'
import { eventually, startTestApp, testKafka, unique } from './helpers.js'
import {
  allTopologies,
  conversationPartitions,
  differingStores,
  explainReceiverDifference,
  type ReplayRig,
  receiptOutcomes,
  replayRig,
  settled,
  UNSHAPED,
  writeTraffic,
} from './replay-traffic.js'

interface Replay {
  child: ChildProcessWithoutNullStreams
  output: () => string
  exited: Promise<number | null>
}

describe('imflow replay --into, interrupted', () => {
  const prefix = `${unique('rpr')}.`
  const kafka = testKafka()
  let rig: ReplayRig
  let codecs: ContractCodecs
  let deployment: Deployment
  const children: ChildProcessWithoutNullStreams[] = []

  beforeAll(async () => {
    rig = await replayRig(prefix, { IMFLOW_LOG_LEVEL: 'warn', ...UNSHAPED })
    ;({ codecs, deployment } = rig)
  })
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    await rig?.close()
  })

  function replay(args: string[]): Replay {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'ops/app/bin.ts', 'replay', ...args],
      {
        env: { ...process.env, ...rig.env },
      },
    )
    children.push(child)
    let output = ''
    child.stdout.on('data', (d) => {
      output += d
    })
    child.stderr.on('data', (d) => {
      output += d
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    return { child, output: () => output, exited }
  }

  it('resumes after a SIGKILL and matches the original app', async () => {
    expect(conversationPartitions).toBe(1)
    // The live app's warnings and errors, told if the runs differ.
    const warnings: string[] = []
    const log = createLogger('warn', (line) => warnings.push(line.slice(0, 400)))
    const app = await startTestApp(prefix, UNSHAPED, undefined, log)
    const sent = 2_000
    try {
      // 2 KB bodies: a fetch holds ~120 of them, so the replay commits in many transactions
      // and there is a moment when some are done and not all.
      await writeTraffic(kafka, rig, sent, { perRequest: 100, bodyBytes: 2_048 })
      await eventually(await settled(deployment, codecs), {
        timeoutMs: 300_000,
        intervalMs: 1_000,
        what: 'the app to process the traffic',
      })
    } finally {
      await app.stop()
    }
    // What the replay must reproduce: every message accepted (the app runs unshaped).
    const decided = await receiptOutcomes(
      deployment.kafka,
      deployment.admin,
      codecs,
      `${prefix}im.receipts`,
    )
    expect(decided, `the live app's last warnings:\n${warnings.slice(-15).join('\n')}`).toEqual({
      Accepted: sent,
    })

    const into = 'resumed'
    const args = ['--from', '0', '--into', into]
    const first = replay(args)
    const ingest = `${prefix}im.ingest`
    // What the progress counts: the shadow receiver's committed position on im.ingest. In the
    // tables phase it is held at the end (2,000); the logs phase sets it to 0 and it climbs.
    let sawHeld = false
    const killedAt = await eventually(
      async () => {
        if (first.child.exitCode !== null) throw new Error(`exited early:\n${first.output()}`)
        const [t] = await deployment.admin.fetchOffsets({
          groupId: `${prefix}${into}-receiver`,
          topics: [ingest],
        })
        const done = (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0)
        if (done === sent) sawHeld = true
        return sawHeld && done > 0 && done < sent ? done : undefined
      },
      { timeoutMs: 300_000, intervalMs: 50, what: 'the replay to be part way through' },
    )
    first.child.kill('SIGKILL')
    expect(await first.exited).toBeNull()
    expect(first.output()).not.toContain('replay complete')

    const second = replay(args)
    const code = await Promise.race([
      second.exited,
      new Promise((r) => setTimeout(() => r('timed out'), 400_000)),
    ])
    expect(code, second.output()).toBe(0)
    const out = second.output()
    expect(out).toContain(`Resuming the interrupted replay into ${into} (phase 2 of 2)`)
    // Its first progress line starts where the killed run got to, not at 0.
    const firstLine = out.match(/replay \d+% ([\d,]+)\/([\d,]+) records/)
    expect(Number(firstLine?.[1]?.replaceAll(',', ''))).toBeGreaterThanOrEqual(killedAt)
    expect(out).toMatch(/replay complete: \d+ records/)
    // A new app id's stores are all new by design: no "new stores" warning (logged at warn).
    expect(`${first.output()}${out}`).not.toContain('new stores in a topology')

    const live = await digestApp(
      deployment.kafka,
      deployment.admin,
      `${prefix}imflow`,
      allTopologies,
    )
    const shadow = await digestApp(
      deployment.kafka,
      deployment.admin,
      `${prefix}${into}`,
      allTopologies,
    )
    expect(shadow.find((r) => r.store === 'dedupe' && r.keys > 0)?.keys).toBe(sent)
    expect(shadow.length).toBe(live.length)
    // Wall-clock windows only (docs/replay.md); everything else is the same state.
    const differ = differingStores(live, shadow).filter((s) => s !== 'sync/pending-notifications')
    const why =
      differ.length === 0
        ? ''
        : [
            `killed at ${killedAt} of ${sent}; live vs shadow:`,
            await explainReceiverDifference(deployment.kafka, deployment.admin, codecs, prefix, [
              `${prefix}imflow`,
              `${prefix}${into}`,
            ]),
            `the live app's last warnings:\n${warnings.slice(-15).join('\n')}`,
            `killed run:\n${first.output().slice(-2_000)}`,
            `resumed run:\n${out.slice(-2_000)}`,
          ].join('\n')
    expect(differ, why).toEqual([])

    // Once complete, the same command says so and changes nothing.
    const third = replay(args)
    expect(await third.exited).toBe(0)
    expect(third.output()).toContain(`The replay into ${into} is complete already`)
  }, 900_000)
})
