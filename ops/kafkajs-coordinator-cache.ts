// kafkajs 2.2.4 asks a broker for the coordinator (FindCoordinator) before every call to it:
// a transaction of a task (AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn) makes
// four such round trips beside its five real ones, each a turn of both event loops and of the
// broker's request threads, on the path of every message (docs/sync.md, Measured). The Java
// client keeps its coordinators until one fails. So does this, for the clients of
// transactional producers: the transaction coordinator, and the group coordinator their
// TxnOffsetCommit goes to. A cluster's answer is kept per (type, id) and used while its
// connection is up; any error from a call to it (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
// a lost connection) forgets it, so kafkajs' own retry of that call asks again, as it did on
// every call before. A cluster counts as a transactional producer's once it asks for a
// transaction coordinator (consumers and admins never do). Consumers' and admins' group
// coordinators stay kafkajs' own: kept for consumers too, an app SIGKILLed and started again
// did not stop on SIGINT (big-groups-crash, twice; the cause was not found in time).
// Patched on kafkajs' Cluster class, which every client makes its cluster from (at its
// connect), so this works whatever the import order.

import { createRequire } from 'node:module'

interface Broker {
  isConnected(): boolean
}

interface ClusterLike {
  findGroupCoordinator(args: { groupId: string; coordinatorType?: number }): Promise<Broker>
}

const INSTALLED = Symbol.for('imflow.coordinatorCache')
/** kafkajs' COORDINATOR_TYPES.TRANSACTION (FindCoordinator's key type 1). */
const TRANSACTION = 1
const require = createRequire(import.meta.url)
const Cluster = require('kafkajs/src/cluster/index.js') as {
  prototype: ClusterLike & { [mark: symbol]: unknown }
}

/** Per cluster: key -> the coordinator broker, wrapped to forget itself on an error. */
const caches = new WeakMap<object, Map<string, Broker>>()
/** Clusters of transactional producers: they asked for a transaction coordinator. */
const transactional = new WeakSet<object>()
let enabled = true

/** Turns the cache off (kafkajs' own lookup on every call) or on: for benchmarks. */
export function setCoordinatorCache(on: boolean): void {
  enabled = on
}

/** A view of `broker` whose failing calls drop it from `cache` (under `key`) before rethrowing. */
export function forgetOnError<B extends object>(broker: B, cache: Map<string, B>, key: string): B {
  // Keyed by the function itself, read anew at each access: a broker replaces some of its
  // function-valued properties when it connects again.
  const wrapped = new WeakMap<object, unknown>()
  const view: B = new Proxy(broker, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown
      if (typeof value !== 'function') return value
      let fn = wrapped.get(value)
      if (!fn) {
        fn = (...args: unknown[]) => {
          const forget = (err: unknown) => {
            if (cache.get(key) === view) cache.delete(key)
            throw err
          }
          try {
            const result = (value as (...a: unknown[]) => unknown).apply(target, args)
            return result instanceof Promise ? result.catch(forget) : result
          } catch (err) {
            return forget(err)
          }
        }
        wrapped.set(value, fn)
      }
      return fn
    },
  })
  return view
}

/** Keeps each cluster's coordinators between calls (see the header). Idempotent. */
export function installCoordinatorCache(
  target: ClusterLike & { [mark: symbol]: unknown } = Cluster.prototype,
): void {
  if (target[INSTALLED]) return
  const find = target.findGroupCoordinator
  target.findGroupCoordinator = async function (this: object, args) {
    // Only a transactional producer asks for a transaction coordinator, and its calls are what
    // repeats per transaction; consumers and admins find theirs as before.
    if (enabled && args.coordinatorType === TRANSACTION) transactional.add(this)
    if (!enabled || !transactional.has(this)) return find.call(this, args)
    let cache = caches.get(this)
    if (!cache) {
      cache = new Map()
      caches.set(this, cache)
    }
    const key = `${args.coordinatorType ?? 0}:${args.groupId}`
    const known = cache.get(key)
    if (known?.isConnected()) return known
    const broker = await find.call(this, args)
    const view = forgetOnError(broker, cache, key)
    cache.set(key, view)
    return view
  }
  target[INSTALLED] = true
}

installCoordinatorCache()
