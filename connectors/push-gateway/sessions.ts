// The devices this gateway holds: (user, device) -> its one current connection. A device that
// connects again replaces its older connection, which then no longer counts (its acks and its
// close are not the device's any more).

export interface DeviceSession<S> {
  readonly userId: string
  readonly deviceId: string
  readonly socket: S
}

export class DeviceSessions<S> {
  private readonly byUser = new Map<string, Map<string, DeviceSession<S>>>()
  private count = 0

  /** Makes the session its device's current one; answers the session it replaces, if any. */
  add(session: DeviceSession<S>): DeviceSession<S> | undefined {
    let devices = this.byUser.get(session.userId)
    if (!devices) {
      devices = new Map()
      this.byUser.set(session.userId, devices)
    }
    const previous = devices.get(session.deviceId)
    devices.set(session.deviceId, session)
    if (!previous) this.count++
    return previous
  }

  isCurrent(session: DeviceSession<S>): boolean {
    return this.byUser.get(session.userId)?.get(session.deviceId) === session
  }

  /** Forgets the session if it is still its device's current one; answers whether it was. */
  remove(session: DeviceSession<S>): boolean {
    if (!this.isCurrent(session)) return false
    const devices = this.byUser.get(session.userId) as Map<string, DeviceSession<S>>
    devices.delete(session.deviceId)
    if (devices.size === 0) this.byUser.delete(session.userId)
    this.count--
    return true
  }

  /** The current sessions of the listed devices of a user that this gateway holds. */
  find(userId: string, deviceIds: readonly string[]): DeviceSession<S>[] {
    const devices = this.byUser.get(userId)
    if (!devices) return []
    const found: DeviceSession<S>[] = []
    for (const deviceId of deviceIds) {
      const session = devices.get(deviceId)
      if (session) found.push(session)
    }
    return found
  }

  hasUser(userId: string): boolean {
    return this.byUser.has(userId)
  }

  /** The users with a device here. */
  users(): string[] {
    return [...this.byUser.keys()]
  }

  /** Every current session of the user on this gateway. */
  ofUser(userId: string): Iterable<DeviceSession<S>> {
    return this.byUser.get(userId)?.values() ?? []
  }

  all(): DeviceSession<S>[] {
    return [...this.byUser.values()].flatMap((devices) => [...devices.values()])
  }

  get size(): number {
    return this.count
  }
}
