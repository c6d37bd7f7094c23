export {
  type CatchUpPage,
  computedListEntry,
  type HistoryPage,
  largeGroupsOf,
  userHistory,
  userMessagesAfter,
  visibleMessages,
} from './history.js'
export {
  deletedKey,
  INBOX_STORES,
  type InboxOptions,
  inboxPrefix,
  inboxTopology,
  type ListRow,
  listKey,
  type MessageSummary,
  markRead,
  summarize,
} from './inbox.js'
export { InboxQueries, type Positioned } from './queries.js'
