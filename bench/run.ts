/**
 * Benchmark harness entry point.
 *
 *   npm run build && node dist/bench/run.js <scenario> [--quick] [--connections N] [--duration S]
 *
 * Scenarios are the modules in bench/scenarios/ that export `scenario`.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { USAGE, parseArgs, resolveOptions } from './lib/cli';
import { collectMachineFacts, findRepoRoot } from './lib/machine';
import { measureStalls } from './lib/stall-probe';
import { planPinning } from './lib/pinning';
import { validateResult, writeResult } from './lib/report';
import { wrkPath } from './lib/wrk';
import type { Scenario } from './lib/types';

export function loadScenarios(dir = path.join(__dirname, 'scenarios')): Map<string, Scenario> {
  const out = new Map<string, Scenario>();
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.js')) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, f)) as { scenario?: Scenario };
    if (mod.scenario && typeof mod.scenario.run === 'function') out.set(mod.scenario.name, mod.scenario);
  }
  return out;
}

/**
 * Runs one scenario from its command line (as `node dist/bench/run.js` and `infera bench`).
 * @returns the exit status: 0 done, 1 a result that fails the schema, 2 a usage error.
 */
export async function runBench(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const scenarios = loadScenarios();
  if (parsed.help || parsed.list || !parsed.scenario) {
    const list = [...scenarios.values()].map((s) => `  ${s.name.padEnd(14)} ${s.description}`).join('\n');
    console.log(`${USAGE}\n\nscenarios:\n${list}`);
    return parsed.help || parsed.list ? 0 : 2;
  }
  const sc = scenarios.get(parsed.scenario);
  if (!sc) {
    console.error(`unknown scenario "${parsed.scenario}"; known: ${[...scenarios.keys()].join(', ')}`);
    return 2;
  }
  const repoRoot = findRepoRoot(__dirname);
  const opts = resolveOptions(parsed, repoRoot);
  if (opts.loadgen === 'wrk' && !wrkPath()) {
    console.error('--loadgen wrk: no wrk binary on PATH (Debian: apt-get install wrk)');
    return 2;
  }
  const machine = collectMachineFacts(repoRoot);
  const pinning = planPinning(opts.pin, machine.cores);
  // The machine's own stalls on the server's core, before any load: the floor under every tail below.
  const stalls = measureStalls(opts.quick ? 3 : 10, pinning.serverCpus);
  machine.stalls = { seconds: stalls.seconds, gaps: stalls.gaps, stalledMs: stalls.stalledMs, longestMs: stalls.longestMs };
  const t0 = Date.now();
  const log = (s: string) => console.log(`[bench +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
  log(`${sc.name} (${opts.quick ? 'quick' : 'full'}): closed loop by ${opts.loadgen}, connections ${opts.connections.join(',')}, ${opts.repeats} × ${opts.durationS} s, warm-up ${opts.warmupS} s`);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; ${pinning.note}`);
  log(`machine stalls on the server's core (busy loop, ${stalls.seconds} s, no load): ${stalls.gaps} gaps > 0.5 ms, ${stalls.stalledMs} ms in all, longest ${stalls.longestMs.join(', ') || '–'} ms`);
  const result = await sc.run(opts, { repoRoot, machine, pinning, log });
  const problems = validateResult(result);
  const files = writeResult(opts.outDir, result);
  log(`wrote ${path.relative(repoRoot, files.json)} and ${path.relative(repoRoot, files.md)}`);
  for (const r of result.ratios) {
    log(`  ${r.label}: ${r.value === null ? `n/a (${r.reason})` : r.unit === 'x' ? `${r.value}×` : `${r.value} ms`}`);
  }
  for (const f of result.flags) log(`  FLAG ${f}`);
  console.log(verdict(result.ratios));
  if (problems.length) {
    console.error(`result does not match the schema:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  return 0;
}

/**
 * One line at the end of a run: ours ÷ the strongest naive peer at 64 connections and ours ÷
 * the one-core compute limit (worst case over the scenario's variants), or the scenario's
 * first ratio where it has neither (ws-stream, sweep, kernels).
 */
export function verdict(ratios: { label: string; value: number | null; unit?: string }[]): string {
  const usable = ratios.filter((r) => r.value !== null && r.unit !== 'ms');
  const bare = (label: string) => label.replace(/^\[[^\]]*\]\s*/, '');
  const worst = (re: RegExp) => usable.filter((r) => re.test(bare(r.label))).sort((a, b) => (a.value as number) - (b.value as number))[0];
  const naive = worst(/^infera ÷ naive.*req\/s @ 64 conn$/);
  const limit = worst(/^infera rows\/s.*÷ in-process (ceiling|rows\/s) \(1 worker/) ?? worst(/^infera ÷ HTTP ceiling/);
  if (!naive && !limit) return usable[0] ? `verdict: ${usable[0].label} = ${usable[0].value}×` : 'verdict: n/a';
  const part = (r: { label: string; value: number | null } | undefined, what: string) => (r ? `${what} ${r.value}× (${r.label})` : `${what} n/a`);
  return `verdict: ${part(naive, 'ours ÷ naive')}; ${part(limit, 'ours ÷ limit')}`;
}

if (require.main === module) {
  runBench(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.stack : e);
      process.exit(1);
    },
  );
}
