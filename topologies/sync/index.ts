export { syncModule } from './module.js'
export { type SyncPage, SyncQueries } from './queries.js'
export { type SyncOptions, syncTopology } from './sync.js'
export {
  type DeviceClass,
  defaultSyncSettings,
  type SyncSettings,
  type UserSync,
} from './sync-state.js'
