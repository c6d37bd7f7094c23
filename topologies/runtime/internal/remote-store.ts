// A committed store of a task another instance owns, read through that instance (its
// internal read endpoint, connectors/http/peer-routes.ts). Point reads are one call; scans
// come in bounded pages, fetched as the reader goes on, so a reader that stops after a few
// entries (a history page) costs one small call.

import { ImflowError } from '../../../ops/errors.js'
import { type ChangeloggedStore, type KeyRange, keyAfter } from '../../../state/index.js'
import type { TaskOwner } from './assignor.js'

/** Where a read goes: a store of one task of one topology. */
export interface StoreAddress {
  topology: string
  partition: number
  store: string
}

export interface ScanPage {
  entries: [Buffer, Buffer][]
  /** More entries may follow the last one. */
  more: boolean
}

/** How the runtime reads another instance's committed stores (HTTP in imflow). */
export interface PeerStoreClient {
  get(ownerUrl: string, address: StoreAddress, key: Buffer): Promise<Buffer | undefined>
  scan(ownerUrl: string, address: StoreAddress, range: KeyRange, limit: number): Promise<ScanPage>
}

export interface RemoteStoreOptions {
  address: StoreAddress
  client: PeerStoreClient
  /** The instance that owns the task now; undefined while unknown. */
  owner: () => Promise<TaskOwner | undefined>
  /** A call failed: the owner may have changed. */
  stale: () => void
}

const FIRST_PAGE = 32
const LARGEST_PAGE = 1_000

export function remoteStore(options: RemoteStoreOptions): ChangeloggedStore['committed'] {
  const { address, client } = options
  const ownerUrl = async (): Promise<string> => {
    const owner = await options.owner()
    if (!owner?.url) {
      throw new ImflowError(
        'IMF_ERR_NOT_READY',
        owner
          ? `${address.topology}: partition ${address.partition} is owned by an instance that advertises no URL (IMFLOW_ADVERTISED_URL)`
          : `${address.topology}: partition ${address.partition} has no known owner right now (rebalancing)`,
      )
    }
    return owner.url
  }
  const call = async <T>(work: (url: string) => Promise<T>): Promise<T> => {
    const url = await ownerUrl()
    try {
      return await work(url)
    } catch (err) {
      // Whatever failed (owner gone, not serving, unreachable), the next read asks the group.
      options.stale()
      throw err
    }
  }
  return {
    get: (key) => call((url) => client.get(url, address, key)),
    async *range(range: KeyRange = {}) {
      let next = range
      let limit = FIRST_PAGE
      for (;;) {
        const bounds = next
        const page = await call((url) => client.scan(url, address, bounds, limit))
        for (const entry of page.entries) yield entry
        const last = page.entries.at(-1)
        if (!page.more || !last) return
        // Continue after the last key: below it when reversed, just above it otherwise.
        next = range.reverse ? { ...range, lt: last[0] } : { ...range, gte: keyAfter(last[0]) }
        limit = Math.min(LARGEST_PAGE, limit * 4)
      }
    },
  }
}
