export { computedListEntry, type HistoryPage, userHistory, visibleMessages } from './history.js'
export {
  type InboxOptions,
  inboxTopology,
  markRead,
  summarize,
} from './inbox.js'
export { InboxQueries } from './queries.js'
