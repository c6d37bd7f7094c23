// A task's checkpoint: the changelog offset each of its stores has reached at least, and the
// source positions committed with the writes up to there (start-position.ts). RocksDB
// only ever takes committed writes, in changelog order (commits, restores), so however the
// process ended a store stands at or past its checkpoint, and reading its changelog from
// there brings it to the end (a record applied again sets what it set before). Written while
// the task runs, once the writes it names are in RocksDB, and when it closes.
//
// RocksDB does not sync its log on every write: after a crash of the process the OS still
// holds what it wrote, after a crash of the machine it may not. So a checkpoint written while
// running is trusted only in the boot it was written in.

import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { uptime } from 'node:os'

/** Changelog topic -> the offset to restore from. */
export type Checkpoint = Record<string, number>

export interface TaskCheckpoint {
  readonly offsets: Checkpoint
  /** Source topic -> the next offset the task had committed to read. */
  readonly positions: Record<string, number>
}

interface CheckpointFile {
  offsets: Checkpoint
  positions?: Record<string, number>
  /** Written by a clean close (every store closed after its last write). */
  closed: boolean
  /** The machine's boot it was written in. */
  boot: string
}

let boot: Promise<string> | undefined

/** Linux's boot id; elsewhere the minute the machine booted. */
function bootId(): Promise<string> {
  boot ??= readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
    (id) => id.trim(),
    () => `booted-${Math.round((Date.now() - uptime() * 1000) / 60_000)}`,
  )
  return boot
}

export async function readCheckpoint(path: string): Promise<TaskCheckpoint | undefined> {
  let file: Partial<CheckpointFile> & Checkpoint
  try {
    file = JSON.parse(await readFile(path, 'utf8'))
  } catch {
    return undefined
  }
  // Before checkpoints were written while running: offsets only, written by a clean close.
  if (typeof file.offsets !== 'object') return { offsets: file as Checkpoint, positions: {} }
  if (!file.closed && file.boot !== (await bootId())) return undefined
  return { offsets: file.offsets, positions: file.positions ?? {} }
}

export async function writeCheckpoint(
  path: string,
  checkpoint: TaskCheckpoint,
  how: { closed: boolean },
): Promise<void> {
  const { offsets, positions } = checkpoint
  const file: CheckpointFile = { offsets, positions, closed: how.closed, boot: await bootId() }
  await writeFile(`${path}.tmp`, JSON.stringify(file))
  await rename(`${path}.tmp`, path)
}

export async function deleteCheckpoint(path: string): Promise<void> {
  await rm(path, { force: true })
}
