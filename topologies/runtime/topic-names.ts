// How the runtime names the topics it owns, in one place: a deployment's internal topics
// (hand-offs between its topologies, topics other deployments write to) and each store's
// changelog. All start with the runtime id (the app id behind the topic prefix), so
// deployments sharing a cluster never meet.

/** A deployment's internal topic `name`: `<appId>-<name>`. */
export function internalTopic(appId: string, name: string): string {
  return `${appId}-${name}`
}

/** The compacted changelog of a topology's store: `<appId>-<topology>-<store>-changelog`. */
export function changelogTopic(appId: string, topology: string, store: string): string {
  return `${appId}-${topology}-${store}-changelog`
}
