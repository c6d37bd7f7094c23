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
  markRead,
  summarize,
} from './inbox.js'
export { inboxModule } from './module.js'
export { InboxQueries } from './queries.js'
