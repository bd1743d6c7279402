/**
 * `infera runs list|show|compare`: the training runs `infera train` recorded in the registry
 * file (src/registry/run-log.ts), side by side as MLflow's compare view shows them: one column
 * per run, one row per parameter and per metric and window, differing rows marked; `--html`
 * writes the same table with the learning curves as SVG.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type * as RunLogModule from '../registry/run-log';
import type { RunLog, RunRecord } from '../registry/run-log';
import { esc, lineChart } from '../monitoring/svg';
import { repositoryOption } from './repository-option';
import { positive, registryFile, registryOption } from './registry-command';

/** The metrics shown per window, in this order. */
const METRICS = ['auc', 'log_loss', 'ece', 'precision', 'recall'];

function openRuns(o: { repository: string; registry?: string }): RunLog {
  const file = registryFile(o);
  if (!fs.existsSync(file)) throw new Error(`no registry at ${file} (no run recorded yet: \`infera train\` records one)`);
  // Loaded when a `runs` command runs, not with every command (issue 12).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { RunLog } = require('../registry/run-log') as typeof RunLogModule;
  return new RunLog(file);
}

const when = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19));
const seconds = (r: RunRecord) => (r.finished_at === null ? '' : `${((r.finished_at - r.started_at) / 1000).toFixed(1)} s`);
const num = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v === null || v === undefined ? '' : JSON.stringify(v));

/** Rows of the comparison: [label, one value per run]. */
export function comparisonRows(runs: RunRecord[]): [string, string[]][] {
  const rows: [string, string[]][] = [
    ['model', runs.map((r) => r.model)],
    ['status', runs.map((r) => (r.failed_stage ? `failed at ${r.failed_stage}` : r.status))],
    ['version', runs.map((r) => num(r.version))],
    ['artifact', runs.map((r) => r.artifact ?? '')],
    ['started', runs.map((r) => when(r.started_at))],
    ['duration', runs.map(seconds)],
    ['pipeline', runs.map((r) => path.basename(r.pipeline))],
    ['data sha256', runs.map((r) => (r.data_sha256 ?? '').slice(0, 16))],
    ['code', runs.map((r) => (r.code ? `${String(r.code.commit).slice(0, 10)}${r.code.dirty ? ' (dirty)' : ''}` : ''))],
    ['parent run', runs.map((r) => num(r.parent_run))],
  ];
  const union = (pick: (r: RunRecord) => Record<string, unknown> | null | undefined) => [...new Set(runs.flatMap((r) => Object.keys(pick(r) ?? {})))].sort();
  for (const k of union((r) => r.options)) rows.push([`option ${k}`, runs.map((r) => num(r.options[k]))]);
  for (const model of union((r) => r.params)) {
    for (const key of union((r) => r.params?.[model] as Record<string, unknown>)) rows.push([`${model}.${key}`, runs.map((r) => num((r.params?.[model] as Record<string, unknown> | undefined)?.[key]))]);
  }
  for (const model of union((r) => r.metrics)) {
    for (const window of union((r) => r.metrics?.[model])) {
      for (const m of METRICS) rows.push([`${model} ${window} ${m}`, runs.map((r) => num(r.metrics?.[model]?.[window]?.[m]))]);
    }
  }
  for (const k of union((r) => r.timings)) rows.push([`seconds ${k.replace(/_s$/, '')}`, runs.map((r) => num(r.timings?.[k]))]);
  return rows.filter(([, vs]) => vs.some((v) => v !== ''));
}

/** The comparison as a terminal table; rows whose values differ start with '*'. */
export function comparisonTable(runs: RunRecord[]): string {
  const rows = comparisonRows(runs);
  const head = ['', ...runs.map((r) => `run ${r.id}`)];
  const body = rows.map(([label, vs]) => [`${new Set(vs).size > 1 ? '* ' : '  '}${label}`, ...vs]);
  const widths = head.map((_, c) => Math.max(...[head, ...body].map((row) => row[c].length)));
  return [head, ...body].map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

/** The comparison as an HTML page: the table, then each model's training loss per epoch, one line per run. */
export function comparisonHtml(runs: RunRecord[]): string {
  const rows = comparisonRows(runs);
  const table = `<table><thead><tr><th></th>${runs.map((r) => `<th>run ${r.id}</th>`).join('')}</tr></thead><tbody>${rows
    .map(([label, vs]) => `<tr${new Set(vs).size > 1 ? ' class="differs"' : ''}><th>${esc(label)}</th>${vs.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
  const models = [...new Set(runs.flatMap((r) => Object.keys(r.curves ?? {})))].sort();
  const charts = models.map((m) => {
    const epochs = Math.max(...runs.map((r) => r.curves?.[m]?.length ?? 0));
    const losses = runs.flatMap((r) => r.curves?.[m] ?? []).filter(Number.isFinite);
    return lineChart({
      lo: Math.min(...losses) * 0.98,
      hi: Math.max(...losses) * 1.02,
      id: `curve-${m}`,
      title: `${m}: training loss per epoch`,
      x: Array.from({ length: epochs }, (_, i) => String(i + 1)),
      series: runs.filter((r) => r.curves?.[m]).map((r) => ({ name: `run ${r.id}`, values: Array.from({ length: epochs }, (_, i) => r.curves![m][i] ?? null) })),
    });
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>infera runs ${runs.map((r) => r.id).join(', ')}</title>
<style>body{font:13px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}th:first-child{text-align:left}tr.differs{background:#fff6d5}.tick{font-size:10px;fill:#555}</style></head>
<body><h1>Training runs ${runs.map((r) => r.id).join(', ')}</h1>${table}<h2>Learning curves</h2>${charts.join('\n') || '<p>no curves recorded</p>'}</body></html>\n`;
}

function summaryLine(r: RunRecord): string {
  const exported = r.metrics ? Object.keys(r.metrics).find((m) => m !== 'baseline') ?? 'baseline' : null;
  const windows = exported ? r.metrics![exported] : {};
  const auc = Object.entries(windows).map(([w, m]) => `${w} ${num(m.auc)}`).join(', ');
  return `${String(r.id).padStart(4)}  ${when(r.started_at)}  ${r.model}  ${(r.failed_stage ? `failed at ${r.failed_stage}` : r.status).padEnd(10)}  ${r.version === null ? '-' : `v${r.version}`}  ${seconds(r)}${auc ? `  AUC ${auc}` : ''}`;
}

export function registerRunsCommand(program: Command): Command {
  const runs = program.command('runs').description('training runs recorded by `infera train` (parameters, data, metrics per window, learning curves)');
  const common = (c: Command) => c.addOption(repositoryOption()).addOption(registryOption()).option('--json', 'print JSON', false);
  const act = <A extends unknown[]>(fn: (...a: A) => void) => (...a: A) => {
    try {
      fn(...a);
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  };
  common(runs.command('list').description('the newest runs first'))
    .addOption(new Option('--model <name>', 'only runs of this model'))
    .addOption(new Option('--limit <n>', 'at most N runs').argParser(positive('--limit')).default(20))
    .action(act((o: { repository: string; registry?: string; model?: string; limit: number; json: boolean }) => {
      const log = openRuns(o);
      try {
        const list = log.list({ model: o.model, limit: o.limit });
        process.stdout.write(o.json ? `${JSON.stringify({ runs: list }, null, 2)}\n` : `${list.map(summaryLine).join('\n') || 'no runs recorded'}\n`);
      } finally {
        log.close();
      }
    }));
  common(runs.command('show').description('one run in full').argument('<run>', 'run id', positive('run id')))
    .action(act((id: number, o: { repository: string; registry?: string; json: boolean }) => {
      const log = openRuns(o);
      try {
        const r = log.get(id);
        if (!r) throw new Error(`no run ${id} (infera runs list shows the recorded ones)`);
        process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${comparisonTable([r])}${r.error ? `\nerror: ${r.error}` : ''}\n`);
      } finally {
        log.close();
      }
    }));
  common(runs.command('compare').description('runs side by side; rows that differ are marked *').argument('<runs...>', 'two or more run ids'))
    .addOption(new Option('--html <file>', 'also write the comparison with learning curves (SVG) as an HTML page'))
    .action(act((ids: string[], o: { repository: string; registry?: string; html?: string; json: boolean }) => {
      if (ids.length < 2) throw new InvalidArgumentError('compare needs two or more run ids');
      const log = openRuns(o);
      try {
        const list = ids.map((s) => {
          const id = positive('run id')(s);
          const r = log.get(id);
          if (!r) throw new Error(`no run ${id} (infera runs list shows the recorded ones)`);
          return r;
        });
        if (o.html) fs.writeFileSync(path.resolve(o.html), comparisonHtml(list));
        process.stdout.write(o.json ? `${JSON.stringify({ rows: comparisonRows(list) }, null, 2)}\n` : `${comparisonTable(list)}\n`);
      } finally {
        log.close();
      }
    }));
  return runs;
}
