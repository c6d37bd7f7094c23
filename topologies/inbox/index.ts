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
  type InboxOptions,
  inboxTopology,
  type ListRow,
  type MessageSummary,
  markRead,
  summarize,
} from './inbox.js'
export { InboxQueries } from './queries.js'
