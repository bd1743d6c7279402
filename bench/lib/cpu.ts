/**
 * CPU accounting from /proc (Linux): how much CPU the server, the load
 * generator (this process) and everything else used during a measurement, so
 * that a run disturbed by other processes on the machine is flagged.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const CLK_TCK = 100; // USER_HZ on Linux

export interface CpuSnapshot {
  t: number;
  systemBusy: number;
  self: number;
  server: number;
}

export interface CpuUsage {
  wallS: number;
  /** Core-seconds used by the server process. */
  serverCoreS: number;
  /** Core-seconds used by the bench process (load generator). */
  loadgenCoreS: number;
  /** Core-seconds used by every other process on the machine. */
  otherCoreS: number;
}

function procTicks(pid: number | 'self'): number {
  // fields after the ")" of comm: state is field 3; utime 14, stime 15
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function systemBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: only time spent by tasks
  // (irq/softirq, e.g. loopback TCP of our own traffic, is not charged to any task)
  return v[0] + v[1] + v[2];
}

export function cpuSnapshot(serverPid?: number): CpuSnapshot | null {
  try {
    return { t: performance.now(), systemBusy: systemBusyTicks(), self: procTicks('self'), server: serverPid ? procTicks(serverPid) : 0 };
  } catch {
    return null;
  }
}

export function cpuUsage(a: CpuSnapshot | null, b: CpuSnapshot | null): CpuUsage | null {
  if (!a || !b) return null;
  const wallS = (b.t - a.t) / 1000;
  const serverCoreS = (b.server - a.server) / CLK_TCK;
  const loadgenCoreS = (b.self - a.self) / CLK_TCK;
  const otherCoreS = Math.max(0, (b.systemBusy - a.systemBusy) / CLK_TCK - serverCoreS - loadgenCoreS);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { wallS: r(wallS), serverCoreS: r(serverCoreS), loadgenCoreS: r(loadgenCoreS), otherCoreS: r(otherCoreS) };
}

/** Flag when other processes used more than `maxShare` of a core on average. */
export function noisyNeighbourFlag(name: string, u: CpuUsage | null, maxShare = 0.1): string | null {
  if (!u || u.wallS <= 0) return null;
  const share = u.otherCoreS / u.wallS;
  if (share <= maxShare) return null;
  return `${name}: other processes used ${u.otherCoreS} core-s during its ${u.wallS} s of load (${Math.round(share * 100)}% of a core); its figures are disturbed`;
}
