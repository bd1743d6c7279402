/**
 * CPU pinning: servers under test on core 1 (`taskset -c 1`), the bench
 * process (load generator, in-process) on core 0 (`taskset -a -cp 0 <pid>`,
 * -a so that libuv/V8 threads already running move too).
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import type { PinningInfo } from './types';

export function hasTaskset(): boolean {
  const r = spawnSync('taskset', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

export function planPinning(wanted: boolean, cores = os.availableParallelism(), taskset = hasTaskset()): PinningInfo {
  if (!wanted) {
    return { enabled: false, serverCpus: null, loadgenCpus: null, serverCoreCount: cores, note: 'pinning disabled (--no-pin): server and load generator share all cores' };
  }
  if (!taskset) {
    return { enabled: false, serverCpus: null, loadgenCpus: null, serverCoreCount: cores, note: 'not pinned: taskset not found' };
  }
  if (cores < 2) {
    return { enabled: false, serverCpus: null, loadgenCpus: null, serverCoreCount: cores, note: `not pinned: only ${cores} core(s)` };
  }
  return {
    enabled: true,
    serverCpus: '1',
    loadgenCpus: '0',
    serverCoreCount: 1,
    note: 'server pinned to core 1 (taskset -c 1); load generator (this process, all threads) pinned to core 0 (taskset -a -cp 0)',
  };
}

/** Pins every thread of `pid` to `cpus`. Throws when taskset fails. */
export function pinProcess(pid: number, cpus: string): void {
  const r = spawnSync('taskset', ['-a', '-cp', cpus, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset -a -cp ${cpus} ${pid} failed: ${r.stderr || r.stdout}`);
}

/** Prefix for spawning a server under the plan. */
export function pinPrefix(p: PinningInfo): string[] {
  return p.enabled && p.serverCpus ? ['taskset', '-c', p.serverCpus] : [];
}
