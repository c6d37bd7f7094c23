// Big groups read, small groups write: above the threshold a message changes no conversation
// list row when it is sent; the list entry is computed when it is read. The receiver decides
// what to write with this rule and the API what to compute, so both must ask it.

/** The default of `IMFLOW_LARGE_GROUP_THRESHOLD`. */
export const DEFAULT_LARGE_GROUP_THRESHOLD = 500

export function isLargeGroup(memberCount: number, threshold: number): boolean {
  return memberCount > threshold
}
