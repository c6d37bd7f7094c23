// Newest-first reads of a log kept under a key prefix: the entries after `prefix`, in
// reverse key order, before an optional position (the key's part after the prefix).

import { prefixEnd, type RawStore } from './raw-store.js'

export async function* newestFirst(
  store: Pick<RawStore, 'range'>,
  prefix: Buffer,
  before?: Buffer,
): AsyncGenerator<{ position: Buffer; value: Buffer }> {
  const lt = before ? Buffer.concat([prefix, before]) : prefixEnd(prefix)
  for await (const [key, value] of store.range({
    gte: prefix,
    ...(lt ? { lt } : {}),
    reverse: true,
  })) {
    yield { position: key.subarray(prefix.length), value }
  }
}
