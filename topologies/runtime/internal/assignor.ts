// The group's partition assignor. A topology's sources are co-partitioned: a task is a
// partition number across all of them, so partition p of every source must go to the same
// member. kafkajs' RoundRobinAssigner spreads the flattened topic-partitions instead, and two
// instances then open the same task and fence each other. This assignor hands out tasks,
// balanced, keeping each member's previous tasks where balance allows (a moved task restores
// its stores). Each member's subscription carries its API base URL, so every instance can
// learn from the group's description which instance owns which task.

import {
  AssignerProtocol,
  type GroupDescription,
  type GroupMember,
  type PartitionAssigner,
} from 'kafkajs'

export const ASSIGNOR_NAME = 'ImflowCoPartitioned'
const VERSION = 1

/** What a member tells the leader when it joins (the subscription's userData, JSON). */
export interface MemberInfo {
  /** The member's API base URL, where other instances read its stores; '' when it has none. */
  url: string
  /** The tasks it holds now: the leader keeps them where balance allows. */
  tasks: number[]
}

export interface AssignorOptions {
  advertisedUrl: string
  /** The tasks this member holds now (asked at each join). */
  ownedTasks: () => Iterable<number>
}

export interface TaskOwner {
  memberId: string
  url: string
}

/**
 * Tasks to members: each member gets floor(n/m) or ceil(n/m) tasks; previous tasks stay where
 * they are as far as that allows (the larger quotas go to the members that held the most).
 * Deterministic: members are taken in id order.
 */
export function assignTasks(
  members: readonly { memberId: string; previous: readonly number[] }[],
  tasks: readonly number[],
): Map<string, number[]> {
  const result = new Map<string, number[]>()
  if (members.length === 0) return result
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : 1))
  const valid = new Set(tasks)
  const claimed = new Set<number>()
  // Each task counts for one previous holder only (two members may both claim one after a
  // split-brain rejoin): the first in id order keeps it.
  const previous = new Map<string, number[]>()
  for (const m of sorted) {
    const mine = [...new Set(m.previous)]
      .filter((t) => valid.has(t) && !claimed.has(t))
      .sort((a, b) => a - b)
    for (const t of mine) claimed.add(t)
    previous.set(m.memberId, mine)
  }
  const base = Math.floor(tasks.length / members.length)
  let larger = tasks.length % members.length
  const quota = new Map<string, number>()
  const byHeld = [...sorted].sort(
    (a, b) => (previous.get(b.memberId)?.length ?? 0) - (previous.get(a.memberId)?.length ?? 0),
  )
  for (const m of byHeld) {
    const extra = larger > 0 && (previous.get(m.memberId)?.length ?? 0) > base ? 1 : 0
    larger -= extra
    quota.set(m.memberId, base + extra)
  }
  // Extra slots nobody's previous tasks asked for go to members in id order.
  for (const m of sorted) {
    if (larger === 0) break
    const q = quota.get(m.memberId) as number
    if (q === base) {
      quota.set(m.memberId, q + 1)
      larger--
    }
  }
  const taken = new Set<number>()
  for (const m of sorted) {
    const keep = (previous.get(m.memberId) ?? []).slice(0, quota.get(m.memberId))
    for (const t of keep) taken.add(t)
    result.set(m.memberId, keep)
  }
  // The rest go round the members in id order, skipping the full ones: a fresh group's
  // tasks spread round-robin.
  let next = 0
  for (const t of [...tasks].sort((a, b) => a - b)) {
    if (taken.has(t)) continue
    for (let tried = 0; tried < sorted.length; tried++, next = (next + 1) % sorted.length) {
      const { memberId } = sorted[next] as { memberId: string }
      const mine = result.get(memberId) as number[]
      if (mine.length < (quota.get(memberId) as number)) {
        mine.push(t)
        next = (next + 1) % sorted.length
        break
      }
    }
  }
  for (const list of result.values()) list.sort((a, b) => a - b)
  return result
}

export function encodeMemberInfo(info: MemberInfo): Buffer {
  return Buffer.from(JSON.stringify(info))
}

/** A member's info from its subscription; empty for members that sent none (or garbage). */
export function decodeMemberInfo(userData: Buffer | undefined | null): MemberInfo {
  try {
    const parsed = JSON.parse(userData?.toString() || '{}') as Partial<MemberInfo>
    return {
      url: typeof parsed.url === 'string' ? parsed.url : '',
      tasks: Array.isArray(parsed.tasks) ? parsed.tasks.filter(Number.isInteger) : [],
    }
  } catch {
    return { url: '', tasks: [] }
  }
}

export function coPartitionedAssigner(options: AssignorOptions): PartitionAssigner {
  return ({ cluster }) => ({
    name: ASSIGNOR_NAME,
    version: VERSION,
    async assign({ members, topics }: { members: GroupMember[]; topics: string[] }) {
      const partitionsOf = new Map(
        topics.map((topic) => [
          topic,
          cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId),
        ]),
      )
      const tasks = [...new Set([...partitionsOf.values()].flat())]
      const owners = assignTasks(
        members.map(({ memberId, memberMetadata }) => ({
          memberId,
          previous: decodeMemberInfo(
            AssignerProtocol.MemberMetadata.decode(memberMetadata)?.userData,
          ).tasks,
        })),
        tasks,
      )
      return members.map(({ memberId }) => {
        const mine = new Set(owners.get(memberId) ?? [])
        const assignment: Record<string, number[]> = {}
        for (const [topic, partitions] of partitionsOf) {
          const owned = partitions.filter((p) => mine.has(p)).sort((a, b) => a - b)
          if (owned.length > 0) assignment[topic] = owned
        }
        return {
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: VERSION,
            assignment,
            userData: Buffer.alloc(0),
          }),
        }
      })
    },
    protocol({ topics }: { topics: string[] }) {
      return {
        name: ASSIGNOR_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: VERSION,
          topics,
          userData: encodeMemberInfo({
            url: options.advertisedUrl,
            tasks: [...options.ownedTasks()],
          }),
        }),
      }
    },
  })
}

/**
 * Which member owns which task, from the group's description. Only a stable group that
 * uses this assignor has an answer (the broker leaves out assignments while rebalancing).
 */
export function taskOwners(group: GroupDescription): Map<number, TaskOwner> | undefined {
  if (group.state !== 'Stable' || group.protocol !== ASSIGNOR_NAME) return undefined
  const owners = new Map<number, TaskOwner>()
  for (const member of group.members) {
    const { url } = decodeMemberInfo(
      AssignerProtocol.MemberMetadata.decode(member.memberMetadata)?.userData,
    )
    const assignment = AssignerProtocol.MemberAssignment.decode(member.memberAssignment)
    for (const partitions of Object.values(assignment?.assignment ?? {})) {
      for (const p of partitions) owners.set(p, { memberId: member.memberId, url })
    }
  }
  return owners
}
