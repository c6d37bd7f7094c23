// A LOW message that peak shaving accepted and deferred (its msgId fixed) is delivered when the
// LOW lane drains it. If its conversation moved to another unit meanwhile, it is delivered
// there — stored in the new home's log, numbered and handed off by it — not here, where the
// conversation's history no longer is: forwarded behind the history on the new home's
// im.ingest (`imflow-import: deliver`), where it waits like any message until the move is complete.

import type { SendMessage, StoredMessage } from '../../schemas/types.generated.js'
import { dedupeKey } from '../model/index.js'
import type { InputRecord } from '../runtime/index.js'
import { IMPORT_CREATED_AT_HEADER, IMPORT_HEADER, IMPORT_MSG_ID_HEADER } from './move-headers.js'
import { header } from './move-in.js'
import { asSent } from './move-out.js'
import { deliver } from './receive.js'
import type { ReceiverTask } from './receiver-task.js'
import { forwardedHeaders, unitSink } from './route-by-unit.js'

/** The LOW lane's delivery: here, or at the unit the conversation moved to. */
export async function deliverDeferred(task: ReceiverTask, stored: StoredMessage): Promise<void> {
  const meta = await task.conversations.get(stored.conversationId)
  const to = meta ? task.route.remote(meta.unit) : undefined
  if (to === undefined) return deliver(task, stored)
  await task.forward.send(unitSink(to, 'ingest'), {
    key: stored.conversationId,
    value: task.options.codecs.sendMessage.encode(asSent(stored)),
    headers: {
      ...forwardedHeaders({}, task.options.unit),
      [IMPORT_HEADER]: 'deliver',
      [IMPORT_MSG_ID_HEADER]: stored.msgId,
      [IMPORT_CREATED_AT_HEADER]: String(stored.createdAt),
    },
  })
}

/** At the new home: delivered with the id it was accepted under; a retry here gets that id. */
export async function deliverForwarded(
  task: ReceiverTask,
  record: InputRecord,
  message: SendMessage,
): Promise<void> {
  const msgId = header(record, IMPORT_MSG_ID_HEADER) ?? ''
  const createdAt = Number(header(record, IMPORT_CREATED_AT_HEADER))
  task.dedupe.put(dedupeKey(message.senderId, message.clientMsgId), { msgId, createdAt })
  await deliver(task, { ...message, msgId, createdAt, seq: 0 })
}
