// A task's checkpoint: the changelog offset each of its stores reflects, written only on a
// clean close and deleted as soon as the task opens. A store without a checkpoint may hold
// writes of an aborted or half-applied transaction, so it is wiped and restored in full.

import { readFile, rename, rm, writeFile } from 'node:fs/promises'

export type Checkpoint = Record<string, number>

export async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Checkpoint
  } catch {
    return undefined
  }
}

export async function writeCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(checkpoint))
  await rename(`${path}.tmp`, path)
}

export async function deleteCheckpoint(path: string): Promise<void> {
  await rm(path, { force: true })
}
