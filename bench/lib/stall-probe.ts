/**
 * The machine's own stalls: a busy loop on the server's core that records every gap in its
 * clock longer than `thresholdMs`. On a shared virtual machine the core is sometimes taken
 * away for milliseconds (measured here: 2–30 ms, a few times per 10 s, on an idle machine);
 * no server can answer faster than that during such a gap, so it bounds every tail figure
 * taken in the same run.
 */
import { spawnSync } from 'node:child_process';

export interface StallFloor {
  seconds: number;
  cpus: string | null;
  thresholdMs: number;
  /** Gaps longer than the threshold. */
  gaps: number;
  /** Their total, ms, and as a share of the probe's time. */
  stalledMs: number;
  stalledShare: number;
  /** The longest few, ms, longest first. */
  longestMs: number[];
}

const PROBE = `
const ms = Number(process.argv[1]) * 1000, th = Number(process.argv[2]);
const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
let last = process.hrtime.bigint(); const gaps = [];
for (;;) { const now = process.hrtime.bigint(); if (now > end) break; const d = Number(now - last) / 1e6; if (d > th) gaps.push(d); last = now; }
process.stdout.write(JSON.stringify(gaps));
`;

/** Runs the probe for `seconds` on `cpus` (taskset; null: anywhere) and returns what it saw. */
export function measureStalls(seconds: number, cpus: string | null, thresholdMs = 0.5): StallFloor {
  const argv = [process.execPath, '-e', PROBE, String(seconds), String(thresholdMs)];
  const r = cpus ? spawnSync('taskset', ['-c', cpus, ...argv], { encoding: 'utf8' }) : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`stall probe failed: ${r.stderr}`);
  const gaps = (JSON.parse(r.stdout) as number[]).sort((a, b) => b - a);
  const stalledMs = gaps.reduce((a, b) => a + b, 0);
  const round = (x: number) => Math.round(x * 100) / 100;
  return { seconds, cpus, thresholdMs, gaps: gaps.length, stalledMs: round(stalledMs), stalledShare: round(stalledMs / (seconds * 1000) * 1e4) / 1e4, longestMs: gaps.slice(0, 5).map(round) };
}
