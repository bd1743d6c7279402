/**
 * How much of a core a server's threads used over a run, exactly: the scheduler's own
 * on-CPU time per thread (/proc/<pid>/task/<tid>/schedstat, nanoseconds), not the 10 ms
 * ticks of /proc/<pid>/stat (which a thread waking and sleeping within a tick escapes or is
 * over-charged by). Linux only; elsewhere every figure is null.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface ThreadTime {
  /** On-CPU ms of the process's main thread (the event loop). */
  mainMs: number;
  /** On-CPU ms of all its threads (workers, the monitoring thread, libuv's pool). */
  allMs: number;
}

function taskMs(pid: number, tid: string): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return 0; // the thread ended between the listing and the read
  }
}

/** The process's on-CPU time so far; null where /proc has no schedstat (not Linux). */
export function threadTime(pid: number): ThreadTime | null {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const mainMs = taskMs(pid, String(pid));
  return { mainMs, allMs: tids.reduce((n, t) => n + taskMs(pid, t), 0) };
}

/**
 * The process that serves for a launched command: `infera serve` re-launches itself with its
 * V8 flags (src/cli/serving-runtime.ts), so the serving process is the launcher's child when
 * it has one; a server that does not re-launch (the naive peers) is the launcher itself.
 */
export function servingPid(launcherPid: number): number {
  try {
    const children = execFileSync('pgrep', ['-P', String(launcherPid)], { encoding: 'utf8' }).trim().split('\n').map(Number).filter((n) => n > 0);
    return children[0] ?? launcherPid;
  } catch {
    return launcherPid; // pgrep exits 1 when there is no child
  }
}

/** Share of one core used between two readings over `wallMs` (null when either is missing). */
export function coreShare(before: ThreadTime | null, after: ThreadTime | null, wallMs: number): { main: number; all: number } | null {
  if (!before || !after || !(wallMs > 0)) return null;
  return { main: (after.mainMs - before.mainMs) / wallMs, all: (after.allMs - before.allMs) / wallMs };
}

/**
 * Runs `run` (a load run whose first `warmupMs` are warm-up) and measures the share of a core
 * the process `pid` used over the rest of it: the reading starts when the warm-up ends.
 */
export async function coreShareDuring<T>(pid: number, warmupMs: number, run: () => Promise<T>): Promise<{ result: T; share: { main: number; all: number } | null; wallMs: number }> {
  let before: ThreadTime | null = null;
  let from = 0;
  const timer = setTimeout(() => {
    before = threadTime(pid);
    from = performance.now();
  }, warmupMs);
  try {
    const result = await run();
    const wallMs = from > 0 ? performance.now() - from : 0;
    return { result, share: coreShare(before, threadTime(pid), wallMs), wallMs };
  } finally {
    clearTimeout(timer);
  }
}
