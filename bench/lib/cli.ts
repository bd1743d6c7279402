/** Command line of `node dist/bench/run.js <scenario> [options]` (pure parsing). */
import * as path from 'node:path';
import type { LoadGen, RunOptions } from './types';

export const USAGE = `usage: infera bench <scenario> [options]   (also: npm run bench -- <scenario> [options])

options:
  --quick              one short repeat of everything (< 60 s; infer-*: 64 rows/request only)
  --connections N[,M]  closed-loop connection counts (default 64); 1 is always added
  --duration S         seconds per measured run (quick 1, full 6)
  --warmup S           warm-up seconds before the first repeat, excluded (quick 0.5, full 3; later repeats 1)
  --repeats N          measured repeats (quick 1, full 3)
  --rate R             open-loop offered rate in req/s (default: 70% of the naive peer's closed-loop rate)
  --targets a,b        only these targets
  --loadgen NAME       closed-loop generator: autocannon (default) or wrk (needs the wrk binary)
  --no-pin             do not pin server / load generator to cores
  --out DIR            output directory (default: a new bench/runs/<scenario>-<UTC time>; the
                       committed figures are written with --out bench/results/<scenario>)
  --list               list scenarios`;

export interface ParsedArgs {
  scenario?: string;
  list: boolean;
  help: boolean;
  quick: boolean;
  pin: boolean;
  connections?: number[];
  durationS?: number;
  warmupS?: number;
  repeats?: number;
  rate?: number;
  targets?: string[];
  out?: string;
  loadgen?: LoadGen;
}

function num(flag: string, v: string | undefined, { int = false, min = 0 } = {}): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min) {
    throw new Error(`${flag} needs ${int ? 'an integer' : 'a number'} >= ${min}, got ${v ?? 'nothing'}`);
  }
  return n;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const p: ParsedArgs = { list: false, help: false, quick: false, pin: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--quick':
        p.quick = true;
        break;
      case '--no-pin':
        p.pin = false;
        break;
      case '--list':
        p.list = true;
        break;
      case '-h':
      case '--help':
        p.help = true;
        break;
      case '--connections': {
        const v = value();
        p.connections = (v ?? '').split(',').map((x) => num('--connections', x, { int: true, min: 1 }));
        break;
      }
      case '--duration':
        p.durationS = num('--duration', value(), { min: 1 });
        break;
      case '--warmup':
        p.warmupS = num('--warmup', value());
        break;
      case '--repeats':
        p.repeats = num('--repeats', value(), { int: true, min: 1 });
        break;
      case '--rate':
        p.rate = num('--rate', value(), { min: 1 });
        break;
      case '--targets':
        p.targets = (value() ?? '').split(',').filter(Boolean);
        break;
      case '--loadgen': {
        const v = value();
        if (v !== 'autocannon' && v !== 'wrk') throw new Error(`--loadgen is autocannon or wrk, got ${v ?? 'nothing'}`);
        p.loadgen = v;
        break;
      }
      case '--out':
        p.out = value();
        break;
      default:
        if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
        if (p.scenario) throw new Error(`unexpected argument ${a}`);
        p.scenario = a;
    }
  }
  return p;
}

/** Fills defaults: quick = 1 x 1 s (+0.5 s warm-up: a smoke run under a minute), full = 3 x 6 s (+3 s warm-up); 1 connection always measured. */
export function resolveOptions(p: ParsedArgs, repoRoot: string, now = new Date()): RunOptions {
  if (!p.scenario) throw new Error('no scenario given');
  const main = p.connections ?? [64];
  const connections = [...new Set([...main, 1])].sort((a, b) => b - a);
  return {
    scenario: p.scenario,
    quick: p.quick,
    connections,
    durationS: p.durationS ?? (p.quick ? 1 : 6),
    warmupS: p.warmupS ?? (p.quick ? 0.5 : 3),
    repeats: p.repeats ?? (p.quick ? 1 : 3),
    pin: p.pin,
    targets: p.targets,
    rate: p.rate,
    // Never over the committed bench/results unless asked: a fresh directory per run.
    outDir: path.resolve(repoRoot, p.out ?? path.join('bench', 'runs', `${p.scenario}-${now.toISOString().replace(/[:.]/g, '-')}`)),
    loadgen: p.loadgen ?? 'autocannon',
  };
}

/** `--name value` of a bench tool's command line (bench/tools/*), or undefined. */
export function toolArg(name: string, argv: string[] = process.argv): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** `--name N` of a bench tool's command line, a positive integer (`fallback` when absent). @throws Error naming the flag otherwise. */
export function toolPositiveInt(name: string, fallback: number, argv: string[] = process.argv): number {
  const v = Number(toolArg(name, argv) ?? fallback);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer, got ${toolArg(name, argv)}`);
  return v;
}
