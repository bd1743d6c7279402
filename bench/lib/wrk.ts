/**
 * Closed loop with wrk (`--loadgen wrk`, when the `wrk` binary is installed: Debian's
 * package `wrk`): a C load generator, to check that autocannon (one Node thread on the
 * generator's core) is not what limits a fast server. Same real bodies, rotated by a Lua
 * script that wrk runs per thread; one thread (the generator has one core when pinned).
 *
 * wrk cannot warm up on the same connections: the warm-up is a separate wrk run (≥ 1 s,
 * whole seconds) whose figures are discarded, except its failures. Latency is wrk's own
 * HDR-style histogram (µs), over all responses of the measured run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closedLoopIndices, type ClosedLoopOptions, type LoadTarget } from './load';
import type { LoadRunStats } from './types';

/** The `wrk` binary on PATH, or null. */
export function wrkPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  return p || null;
}

const MARK = 'INFERA_WRK ';

/** The Lua script: loads the bodies written beside it, pre-formats one request per body, rotates. */
export function wrkScript(dir: string, t: LoadTarget, indices: number[]): string {
  const q = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string literal here (ASCII)
  const reqs = indices.map((i, k) => {
    const headers: Record<string, string> = { 'Content-Type': t.contentType ?? 'application/json', ...(t.bodyHeaders?.[i] ?? {}) };
    const h = Object.entries(headers).map(([name, v]) => `[${q(name)}] = ${q(v)}`).join(', ');
    return `  reqs[${k + 1}] = wrk.format("POST", ${q(t.path)}, { ${h} }, slurp(${q(path.join(dir, `${k}.body`))}))`;
  });
  return [
    'local reqs = {}',
    'local n = 0',
    'local function slurp(p) local f = assert(io.open(p, "rb")); local b = f:read("*a"); f:close(); return b end',
    'init = function(args)',
    ...reqs,
    'end',
    'request = function() n = n % #reqs + 1; return reqs[n] end',
    'done = function(s, latency, requests)',
    `  io.write(string.format('${MARK}{"requests":%.0f,"durationUs":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f,"mean":%.0f}\\n',`,
    '    s.requests, s.duration, s.errors.connect, s.errors.read, s.errors.write, s.errors.status, s.errors.timeout,',
    '    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))',
    'end',
    '',
  ].join('\n');
}

interface WrkFigures {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Parses the line the script's done() prints. */
export function parseWrkOutput(stdout: string): WrkFigures {
  const line = stdout.split('\n').find((l) => l.startsWith(MARK));
  if (!line) throw new Error(`wrk printed no result line:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice(MARK.length)) as WrkFigures;
}

function runWrk(script: string, url: string, connections: number, seconds: number, timeoutS: number, threads: number, prefix: string[]): Promise<WrkFigures> {
  return new Promise((resolve, reject) => {
    const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', `${timeoutS}s`, '-s', script, url];
    const [cmd, ...pre] = [...prefix, 'wrk'];
    const p = spawn(cmd, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.once('error', reject);
    p.once('exit', (code) => {
      if (code !== 0) reject(new Error(`wrk ${args.join(' ')} exited ${code}: ${err.trim() || out.trim()}`));
      else {
        try {
          resolve(parseWrkOutput(out));
        } catch (e) {
          reject(e);
        }
      }
    });
  });
}

/** How wrk runs: its threads (one per generator core) and a command prefix (`taskset -c …`). */
export interface WrkRunner {
  threads: number;
  prefix: string[];
}

/** One closed-loop run with wrk: a warm-up run (discarded but for its failures), then the measured run. */
export async function wrkClosedLoop(t: LoadTarget, o: ClosedLoopOptions, runner: WrkRunner = { threads: 1, prefix: [] }): Promise<LoadRunStats> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infera-wrk-'));
  try {
    const indices = closedLoopIndices(t.bodies.length);
    indices.forEach((i, k) => writeFileSync(path.join(dir, `${k}.body`), t.bodies[i]));
    const script = path.join(dir, 'bodies.lua');
    writeFileSync(script, wrkScript(dir, t, indices));
    const timeoutS = o.timeoutS ?? 10;
    const warm = o.warmupS > 0 ? await runWrk(script, t.baseUrl, o.connections, Math.max(1, Math.ceil(o.warmupS)), timeoutS, runner.threads, runner.prefix) : null;
    const m = await runWrk(script, t.baseUrl, o.connections, Math.max(1, Math.round(o.durationS)), timeoutS, runner.threads, runner.prefix);
    const elapsedS = m.durationUs / 1e6;
    const ok2xx = Math.max(0, m.requests - m.status);
    const ms = (us: number) => Math.round(us) / 1000;
    const failures = (f: WrkFigures | null) => (f ? f.connect + f.read + f.write : 0);
    return {
      mode: 'closed',
      connections: o.connections,
      elapsedS: Math.round(elapsedS * 1000) / 1000,
      responses: m.requests,
      ok2xx,
      reqPerSec: elapsedS > 0 ? Math.round((ok2xx / elapsedS) * 10) / 10 : 0,
      latencyMs: { p50: ms(m.p50), p90: ms(m.p90), p99: ms(m.p99), max: ms(m.max), mean: ms(m.mean) },
      errors: failures(warm) + failures(m) + (warm?.timeout ?? 0) + m.timeout,
      timeouts: (warm?.timeout ?? 0) + m.timeout,
      non2xx: (warm?.status ?? 0) + m.status,
      statusCodes: m.status > 0 ? { '2xx': ok2xx, 'non-2xx/3xx': m.status } : { '2xx': ok2xx },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
