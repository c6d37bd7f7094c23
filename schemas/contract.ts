// The contract's codecs: one per topic, its value schema registered under `<topic>-value`.
// Registration is idempotent, so provisioning and every start may do it.

import { createEventCodec, type EventCodec } from './codec.js'
import type { SchemaSource } from './schema-source.js'
import { type ContractTopic, contractTopics, topicName } from './topics.js'
import type { Events } from './types.generated.js'

type ValueOf<T extends ContractTopic> = Events[Extract<
  (typeof contractTopics)[number],
  { base: T }
>['valueSchema']]

export type ContractCodecs = { readonly [T in ContractTopic]: EventCodec<ValueOf<T>> }

export function valueSubject(topic: string): string {
  return `${topic}-value`
}

export async function registerContract(
  source: SchemaSource,
  topicPrefix: string,
): Promise<ContractCodecs> {
  const entries = await Promise.all(
    contractTopics.map(
      async (t) =>
        [
          t.base,
          await createEventCodec(
            source,
            valueSubject(topicName(topicPrefix, t.base)),
            t.valueSchema,
          ),
        ] as const,
    ),
  )
  return Object.fromEntries(entries) as unknown as ContractCodecs
}
