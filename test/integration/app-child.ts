// An `imflow start` the test runs as a child process: its last log lines kept, and a stop
// that never leaves it running. SIGINT first (the app stops itself, naming each step);
// if it has not exited in time, SIGKILL, and the test fails with what the app said last,
// so a stop that hangs is seen with where it hung, not left behind as an orphan.

import type { ChildProcess } from 'node:child_process'

/** The child's last `keep` lines of output (its log is on stderr). */
export function outputTail(child: ChildProcess, keep = 40): () => string[] {
  const lines: string[] = []
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(line.slice(0, 300))
    lines.splice(0, Math.max(0, lines.length - keep))
  }
  child.stdout?.on('data', take)
  child.stderr?.on('data', take)
  return () => [...lines]
}

export async function stopChild(
  child: ChildProcess | undefined,
  tail: () => string[],
  timeoutMs = 45_000,
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGINT')
  const stopped = await Promise.race([
    exited.then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), timeoutMs)),
  ])
  if (stopped) return
  child.kill('SIGKILL')
  await exited
  throw new Error(
    `imflow did not stop within ${timeoutMs} ms of SIGINT; its last lines:\n${tail().join('\n')}`,
  )
}
