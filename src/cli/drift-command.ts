/**
 * `infera drift`: replays days of a source file through a registered model offline and
 * prints, per day (or week), the drift of every input column, of the predictions and of
 * the labels against the model's card.json baseline, with the live-equivalent AUC.
 * The lead wires it in src/cli/main.ts:
 *   registerDriftCommand(program);
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfigFile, resolveConfig } from '../monitoring/config';
import type * as ReplayModule from '../monitoring/replay';
import type { DayRows, OfflineModel, ReplayedDay } from '../monitoring/replay';
import { VersionMonitor } from '../monitoring/version-monitor';
import { repositoryOption } from './repository-option';

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

function date(name: string) {
  return (v: string): string => {
    const ms = Date.parse(`${v}T00:00:00Z`);
    if (!DATE_RE.test(v) || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== v) throw new InvalidArgumentError(`--${name} must be a date YYYY-MM-DD, got '${v}'`);
    return v;
  };
}

/** The card's source file: as recorded (relative to the cwd), else next to the repository. */
function sourceOf(model: OfflineModel, repository: string): string {
  const p = model.card.source?.path as string | undefined;
  const candidates = p ? [path.resolve(p), path.resolve(repository, '..', p)] : [];
  const hit = candidates.find((c) => fs.existsSync(c));
  if (!hit) throw new Error(`the card's source file ${p ? `'${p}' ` : ''}is not here; pass --source <file>`);
  return hit;
}

/** Merges consecutive days into one (for --window week). */
function mergeDays(days: { d: DayRows; p: Float32Array }[], name: string): { d: DayRows; p: Float32Array } {
  const rows = days.reduce((s, x) => s + x.d.rows, 0);
  const columns: DayRows['columns'] = {};
  for (const k of Object.keys(days[0].d.columns)) columns[k] = days.flatMap((x) => Array.from(x.d.columns[k] as ArrayLike<string | number>)) as string[] | number[];
  const labels = new Uint8Array(rows);
  const p = new Float32Array(rows);
  let o = 0;
  for (const x of days) {
    labels.set(x.d.labels, o);
    p.set(x.p, o);
    o += x.d.rows;
  }
  return { d: { day: name, rows, columns, labels }, p };
}

const f = (v: number | null | undefined, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

export function formatTable(model: OfflineModel, out: ReplayedDay[]): string {
  const cols = model.baseline.columns.map((c) => c.name);
  const head = ['window', 'rows', 'drift', 'share', ...cols, 'prediction', 'label%', 'target', 'AUC', 'ΔAUC'];
  const held = model.baseline.heldOutAuc;
  const lines = out.map((r) => {
    const byCol = new Map(r.result.drift.columns.map((c) => [c.column, c]));
    const p = r.result.predictions;
    const t = r.performance.target_drift;
    return [
      r.day, String(r.result.rows), VersionMonitor.flagged(r.result, r.performance) ? 'DRIFT' : 'ok', f(r.result.drift.share, 2),
      ...cols.map((c) => {
        const x = byCol.get(c);
        return x ? `${f(x.score)}${x.drifted ? '*' : ''}` : 'skip';
      }),
      p ? `${f(p.score)}${p.drifted ? (p.comparable ? '*' : '(c)') : ''}` : '–',
      // The proportion test: how far the late share moved from the training window's, in points.
      f(100 * r.performance.positive_rate, 1), t ? `${t.difference !== undefined ? `${t.difference >= 0 ? '+' : ''}${(100 * t.difference).toFixed(1)}pt` : f(t.score)}${t.drifted ? '*' : ''}` : '–',
      f(r.performance.auc, 4), r.performance.auc !== null && held !== undefined ? f(r.performance.auc - held, 4) : '–',
    ];
  });
  const width = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  const b = model.baseline;
  return [
    `${b.model} v${b.version}: baseline '${b.window}' (${b.rows} rows), label share ${f(b.label?.positiveRate)} (${b.label?.source ?? 'none'}), held-out AUC ${f(held, 4)}`,
    row(head),
    ...lines.map(row),
    '* drifted   (c) predictions differ but the window is shorter than the calendar period (informational)',
  ].join('\n');
}

/** `print` receives the report (stdout by default). */
export function registerDriftCommand(program: Command, print: (text: string) => void = (t) => process.stdout.write(t)): Command {
  return program
    .command('drift')
    .description("replay days of the source data through a model offline and report drift against its card's baseline")
    .requiredOption('-m, --model <name>', 'model name')
    .addOption(new Option('-v, --version <n>', 'model version (default: the newest)').argParser(positiveInt('version')))
    .addOption(repositoryOption())
    .addOption(new Option('-w, --window <kind>', 'window').choices(['day', 'week']).default('day'))
    .addOption(new Option('--from <date>', 'first day (default: the day after the holdout window)').argParser(date('from')))
    .addOption(new Option('--to <date>', 'day after the last (default: from + 7 windows)').argParser(date('to')))
    .option('--source <file>', "source file (default: the card's)")
    .addOption(new Option('--rows-per-day <n>', 'deterministic subset of at most N rows per day').argParser(positiveInt('rows-per-day')))
    .option('--config <file>', 'monitoring config JSON (tests, thresholds)')
    .option('--json', 'print the windows as JSON', false)
    .action(async (o: { model: string; version?: number; repository: string; window: 'day' | 'week'; from?: string; to?: string; source?: string; rowsPerDay?: number; config?: string; json: boolean }) => {
      // The replay (DuckDB, onnxruntime) loads when `drift` runs, not with every command (issue 12).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { judgeDay, OfflineModel, readDays } = require('../monitoring/replay') as typeof ReplayModule;
      const repository = path.resolve(o.repository);
      const model = await OfflineModel.load(repository, o.model, o.version);
      try {
        const config = o.config ? loadConfigFile(o.config) : resolveConfig();
        const span = o.window === 'week' ? 7 : 1;
        const from = o.from ?? (model.card.time_range?.holdout?.to as string | undefined)?.slice(0, 10);
        if (!from) throw new Error('--from is required (the card names no holdout window)');
        const to = o.to ?? addDays(from, 7 * span);
        if (!(to > from)) throw new Error(`--to (${to}) must be after --from (${from})`);
        const source = o.source ? path.resolve(o.source) : sourceOf(model, repository);
        const out: ReplayedDay[] = [];
        let pending: { d: DayRows; p: Float32Array }[] = [];
        for await (const d of readDays(source, model, from, to, o.rowsPerDay)) {
          if (d.rows === 0) continue;
          pending.push({ d, p: await model.predict(d.columns, d.rows) });
          if (pending.length === span) {
            const w = span === 1 ? pending[0] : mergeDays(pending, `${pending[0].d.day}..${d.day}`);
            out.push(judgeDay(model, config, w.d, w.p));
            pending = [];
          }
        }
        if (pending.length) {
          const w = pending.length === 1 ? pending[0] : mergeDays(pending, `${pending[0].d.day}..${pending[pending.length - 1].d.day}`);
          out.push(judgeDay(model, config, w.d, w.p));
        }
        if (out.length === 0) throw new Error(`no rows in [${from}, ${to}) of ${source}`);
        print(o.json ? `${JSON.stringify(out, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n` : `${formatTable(model, out)}\n`);
      } finally {
        await model.close();
      }
    });
}
