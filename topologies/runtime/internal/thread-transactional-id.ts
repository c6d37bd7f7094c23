// The transactional id of a runner's one producer (one transaction per thread). Kafka fences a
// producer by its id only against another with the same id, so the id must be unique among live
// runners and, to be useful, the same after a restart: the restarted runner's InitProducerId
// then ends what its killed predecessor left open at once, instead of the group's readers
// waiting for the transaction timeout (Kafka Streams keeps its process id in its state folder
// for the same reason). So it is drawn once and kept in the runner's state folder.

import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const FILE = 'thread-transactional-id'
/** Ids held by runners of this process: two runners on one state folder must not share one. */
const inUse = new Set<string>()

function draw(appId: string, topology: string): string {
  return `${appId}-${topology}-thread-${randomBytes(6).toString('hex')}`
}

/** The runner's id, read from (or first written to) `<stateDir>/<appId>/<topology>/`; release() when stopped. */
export async function threadTransactionalId(
  stateDir: string,
  appId: string,
  topology: string,
): Promise<{ id: string; release(): void }> {
  const dir = join(stateDir, appId, topology)
  const path = join(dir, FILE)
  let id = (await readFile(path, 'utf8').catch(() => '')).trim()
  if (!id) {
    id = draw(appId, topology)
    await mkdir(dir, { recursive: true })
    await writeFile(path, `${id}\n`)
  }
  // Another runner of this process has it: this one takes a fresh id, kept nowhere.
  if (inUse.has(id)) id = draw(appId, topology)
  inUse.add(id)
  return { id, release: () => inUse.delete(id) }
}
