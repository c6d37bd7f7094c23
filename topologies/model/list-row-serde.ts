// A conversation-list row as the inbox stores it: a version byte, then Avro with the unread
// ids packed as bytes (unread-ids.ts). Rows stored before, as JSON, still read (their first
// byte is '{'), so a store and its changelog need no rewrite.

import avsc from 'avsc'
import type { Serde } from '../../state/index.js'
import type { ListRow } from './conversation-list.js'
import { packUnreadIds } from './unread-ids.js'

const VERSION = Buffer.from([1])
const JSON_START = 0x7b // '{'

const stored = avsc.Type.forSchema({
  type: 'record',
  name: 'StoredListRow',
  fields: [
    { name: 'unread', type: 'int' },
    { name: 'unreadIds', type: 'bytes' },
    {
      name: 'last',
      type: [
        'null',
        {
          type: 'record',
          name: 'StoredMessageSummary',
          fields: [
            { name: 'msgId', type: 'string' },
            { name: 'senderId', type: 'string' },
            { name: 'type', type: 'string' },
            { name: 'preview', type: 'string' },
            { name: 'createdAt', type: 'long' },
          ],
        },
      ],
    },
    { name: 'lastDeleted', type: 'boolean' },
  ],
})

type JsonRow = Omit<ListRow, 'unreadIds'> & { unreadIds: string[] }

export const listRowSerde: Serde<ListRow> = {
  serialize: (row) =>
    Buffer.concat([VERSION, stored.toBuffer({ ...row, lastDeleted: row.lastDeleted === true })]),
  deserialize: (bytes) => {
    if (bytes[0] === JSON_START) {
      const row = JSON.parse(bytes.toString('utf8')) as JsonRow
      return { ...row, unreadIds: packUnreadIds(row.unreadIds) }
    }
    const { lastDeleted, last, ...row } = stored.fromBuffer(bytes.subarray(1)) as Required<ListRow>
    // avsc decodes records as instances whose prototype lists methods among their keys: the
    // API's schemas (additionalProperties: false) take plain objects only.
    const plain = { ...row, last: last && { ...last } }
    return lastDeleted ? { ...plain, lastDeleted } : plain
  },
}
