// Request-reply over Kafka for POST /v1/messages: the API instance writes the message to
// im.ingest with headers naming itself and the request; the receiver copies them onto the
// receipt; this consumer (a group of its own, so it sees every partition of im.receipts)
// hands each receipt to the request waiting for it.

import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import { ImflowError } from '../../ops/errors.js'
import { OUTAGE_TOLERANT_CONSUMER } from '../../ops/kafka-client.js'
import { type LastingConsumer, startLastingConsumer } from '../../ops/lasting-consumer.js'
import type { Logger } from '../../ops/log.js'
import type { EventCodec } from '../../schemas/codec.js'
import type { Receipt } from '../../schemas/types.generated.js'

interface Pending {
  resolve(receipt: Receipt): void
  reject(err: Error): void
  timer: NodeJS.Timeout
}

export class ReceiptWaiter {
  private constructor(
    private readonly consumer: LastingConsumer,
    /** This instance's name on the wire (the imflow-reply-to header). */
    readonly instanceId: string,
    private readonly pending: Map<string, Pending>,
  ) {}

  static async start(
    kafka: Kafka,
    topic: string,
    codec: EventCodec<Receipt>,
    log: Logger,
  ): Promise<ReceiptWaiter> {
    const groupId = `imflow-api-receipts-${randomUUID()}`
    const pending = new Map<string, Pending>()
    const instanceId = `api-${randomUUID()}`
    const consumer = await startLastingConsumer({
      kafka,
      config: {
        ...OUTAGE_TOLERANT_CONSUMER,
        groupId,
        readUncommitted: false,
        maxWaitTimeInMs: 50,
        allowAutoTopicCreation: false,
      },
      topics: [topic],
      fromBeginning: false,
      // Committed (in this group of its own) only so that a consumer restarted after a crash
      // goes on where it was instead of at the end, where it would miss the receipts
      // written meanwhile (each a request waiting out its timeout).
      commitEveryMs: 1_000,
      run: {
        eachMessage: async ({ message }) => {
          if (message.headers?.['imflow-reply-to']?.toString() !== instanceId) return
          const requestId = message.headers['imflow-request-id']?.toString()
          const request = requestId ? pending.get(requestId) : undefined
          if (!request || !message.value) return
          pending.delete(requestId as string)
          clearTimeout(request.timer)
          try {
            request.resolve(await codec.decode(message.value))
          } catch (err) {
            log.error('undecodable receipt', { error: String(err) })
            request.reject(err as Error)
          }
        },
      },
      log,
      what: 'the API’s receipts',
    })
    // Serving starts only after the first fetch: by then the start offset (the end of each
    // partition) is fixed, so no receipt of ours can slip in before it.
    await consumer.firstFetch
    return new ReceiptWaiter(consumer, instanceId, pending)
  }

  /** Waits for the receipt of one request; register before the message is sent. */
  wait(requestId: string, timeoutMs: number): Promise<Receipt> {
    return new Promise<Receipt>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId)
        reject(
          new ImflowError(
            'IMF_ERR_TIMEOUT',
            `no receipt within ${timeoutMs} ms; retry with the same clientMsgId to learn the outcome`,
          ),
        )
      }, timeoutMs)
      this.pending.set(requestId, { resolve, reject, timer })
    })
  }

  /** Forgets a request whose message could not be sent. */
  cancel(requestId: string): void {
    const request = this.pending.get(requestId)
    if (request) clearTimeout(request.timer)
    this.pending.delete(requestId)
  }

  async stop(): Promise<void> {
    for (const [id, request] of this.pending) {
      clearTimeout(request.timer)
      request.reject(new ImflowError('IMF_ERR_TIMEOUT', 'the API is stopping'))
      this.pending.delete(id)
    }
    await this.consumer.stop()
  }
}
