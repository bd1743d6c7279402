/** Pure rendering / checking of results, plus the writer of result.json + summary.md. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { renderCharts } from './charts';
import type { Spread } from './stats';
import { RESULT_SCHEMA_VERSION, type BenchResult, type RatioEntry, type SeriesResult, type TargetResult } from './types';

export function fmt(x: number | null | undefined, digits = 2): string {
  if (x == null || !Number.isFinite(x)) return 'n/a';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 100) return x.toFixed(Math.max(0, digits - 2));
  return x.toFixed(digits);
}

export function fmtSpread(s: Spread, digits = 2): string {
  if (s.values.length <= 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;
}

export function fmtRatio(r: RatioEntry): string {
  if (r.value === null) return `n/a${r.reason ? ` (${r.reason})` : ''}`;
  return r.unit === 'x' ? `${r.value.toFixed(3)}×` : `${r.value >= 0 ? '+' : ''}${r.value.toFixed(3)} ms`;
}

/** Problems a reader must see: transport errors, non-2xx, timeouts, incomplete open-loop requests. */
export function seriesFlags(target: string, s: SeriesResult): string[] {
  const where = s.mode === 'closed' ? `${s.connections} conn` : s.mode === 'stream' ? `${s.connections} streams` : `open loop ${s.offeredRate} req/s`;
  const out: string[] = [];
  if (s.errors > 0) out.push(`${target} @ ${where}: ${s.errors} transport errors`);
  if (s.non2xx > 0) out.push(`${target} @ ${where}: ${s.non2xx} non-2xx responses`);
  if (s.timeouts > 0) out.push(`${target} @ ${where}: ${s.timeouts} timeouts`);
  const incomplete = s.runs.reduce((a, r) => a + (r.incomplete ?? 0), 0);
  if (incomplete > 0) out.push(`${target} @ ${where}: ${incomplete} ${s.mode === 'stream' ? 'windows' : 'requests'} unanswered when the run ended (overloaded?)`);
  if (s.mode === 'stream') {
    const lag = Math.max(...s.runs.map((r) => r.sendLagP99Ms ?? 0));
    if (lag > 5) out.push(`${target} @ ${where}: the stream generator's p99 send lag is ${lag} ms; latencies include it`);
  }
  if (s.mode === 'open') {
    const lag = Math.max(...s.runs.map((r) => r.maxSendLagMs ?? 0));
    if (lag > 50) out.push(`${target} @ ${where}: load generator fell behind (max send lag ${lag} ms); latencies include it`);
    const achieved = s.reqPerSec.median;
    if (s.offeredRate && achieved < 0.95 * s.offeredRate) {
      out.push(`${target} @ ${where}: served ${fmt(achieved, 0)} req/s < 95% of offered ${s.offeredRate} (overloaded)`);
    }
  }
  return out;
}

function hasErrors(t: TargetResult): boolean {
  return t.series.some((s) => s.errors > 0 || s.non2xx > 0 || s.timeouts > 0) || (t.preflight !== undefined && !t.preflight.ok);
}

function targetCell(t: TargetResult, bad = false): string {
  return `${t.name}${bad ? ' ⚠' : ''}`;
}

/** One markdown table row; pipes inside cells are escaped. */
function md(cells: (string | number)[]): string {
  return `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
}

export function renderSummary(r: BenchResult): string {
  const L: string[] = [];
  const m = r.machine;
  L.push(`# ${r.scenario} — ${r.mode} run`);
  L.push('');
  L.push(r.description);
  L.push('');
  L.push(`- when: ${r.startedAt} (${fmt(r.elapsedS, 0)} s)`);
  L.push(`- commit: ${m.git.commit ?? 'none'}${m.git.dirty ? ' (dirty tree)' : ''}`);
  L.push(
    `- machine: ${m.cpuModel}, ${m.cores} cores, ${m.totalMemGiB} GiB, ${m.platform}/${m.arch} ${m.kernel}, Node ${m.node}; load average ${m.loadAvg1m} at start`,
  );
  if (m.stalls) L.push(`- machine stalls on the server's core (busy loop, ${m.stalls.seconds} s, before any load): ${m.stalls.gaps} gaps > 0.5 ms, ${m.stalls.stalledMs} ms in all, longest ${m.stalls.longestMs.join(', ') || '–'} ms — no tail below these is possible here`);
  L.push(`- packages: ${Object.entries(m.packages).map(([k, v]) => `${k} ${v ?? 'missing'}`).join(', ')}`);
  L.push(`- pinning: ${r.pinning.note}`);
  L.push(`- input: ${r.input.description}; ${r.input.items} distinct real items; request bodies ${r.config.requestBodyBytes.min}–${r.config.requestBodyBytes.max} bytes`);
  for (const src of r.input.sources) L.push(`  - source: ${src.path} (sha256 ${src.sha256.slice(0, 16)}…)`);
  L.push(
    `- load: ${r.config.repeats} repeat(s) × ${r.config.durationS} s measurement window per setting, each after a warm-up on the same connections (${r.config.warmupS} s before the first repeat, ≤ 1 s before later ones) that is excluded; median [min–max] over repeats; errors / non-2xx / timeouts count the warm-up too`,
  );
  if (r.settings) L.push(`- settings: \`${JSON.stringify(r.settings)}\``);
  L.push('');

  if (r.ratios.length) {
    L.push('## Ratios');
    L.push('');
    L.push('| ratio | value | formula |');
    L.push('| --- | --- | --- |');
    for (const x of r.ratios) L.push(`| ${x.label} | ${fmtRatio(x)} | ${x.formula} |`);
    L.push('');
  }

  for (const sec of r.sections ?? []) {
    L.push(`## ${sec.title}`);
    L.push('');
    if (sec.text) {
      L.push(sec.text);
      L.push('');
    }
    L.push(md(sec.columns));
    L.push(md(sec.columns.map(() => '---')));
    for (const row of sec.rows) L.push(md(row.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? fmt(c, 0) : fmt(c, 3)) : c))));
    L.push('');
  }

  const ok = r.targets.filter((t) => t.status === 'ok');
  const anyVariant = ok.some((t) => t.variant !== undefined);
  const anyRows = ok.some((t) => (t.rowsPerRequest ?? 1) > 1);
  const lead = (t: TargetResult, bad: boolean) => [targetCell(t, bad), ...(anyVariant ? [t.variant ?? ''] : [])];
  const leadHead = ['target', ...(anyVariant ? ['variant'] : [])];
  const rowsCell = (t: TargetResult, s: SeriesResult) => (anyRows ? [fmt(s.reqPerSec.median * (t.rowsPerRequest ?? 1), 0)] : []);
  const rowsHead = anyRows ? ['rows/s'] : [];
  const bad = (s: SeriesResult) => s.errors + s.non2xx + s.timeouts > 0;
  const latencyCells = (s: SeriesResult) => [fmtSpread(s.latencyMs.p50, 3), fmtSpread(s.latencyMs.p90, 3), fmtSpread(s.latencyMs.p99, 3), fmtSpread(s.latencyMs.max, 2)];

  const closed = ok.filter((t) => t.series.some((s) => s.mode === 'closed'));
  if (closed.length) {
    L.push(`## Closed loop (${r.config.loadgen ?? 'autocannon'}, fixed connections)`);
    L.push('');
    const head = [...leadHead, 'conns', 'req/s', ...rowsHead, 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'timeouts'];
    L.push(md(head));
    L.push(md(head.map((_, i) => (i < leadHead.length ? '---' : '---:'))));
    for (const t of closed) {
      for (const s of t.series.filter((x) => x.mode === 'closed')) {
        L.push(
          md([
            ...lead(t, bad(s)),
            s.connections,
            fmtSpread(s.reqPerSec, 0),
            ...rowsCell(t, s),
            ...latencyCells(s),
            s.errors,
            s.non2xx,
            s.timeouts,
          ]),
        );
      }
    }
    L.push('');
  }

  const open = ok.filter((t) => t.series.some((s) => s.mode === 'open'));
  if (open.length) {
    const goodput = open.some((t) => t.series.some((s) => s.goodputPerSec));
    const obj = open.flatMap((t) => t.series).find((s) => s.objectiveMs !== undefined)?.objectiveMs;
    L.push('## Open loop (constant arrival rate, latency from the intended send time)');
    L.push('');
    const head = [
      ...leadHead,
      'offered req/s',
      'served req/s',
      ...(goodput ? [`2xx ≤ ${obj} ms /s`] : []),
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'errors',
      'non-2xx',
      'max send lag ms',
    ];
    L.push(md(head));
    L.push(md(head.map((_, i) => (i < leadHead.length ? '---' : '---:'))));
    for (const t of open) {
      for (const s of t.series.filter((x) => x.mode === 'open')) {
        const lag = Math.max(...s.runs.map((x) => x.maxSendLagMs ?? 0));
        L.push(
          md([
            ...lead(t, false),
            s.offeredRate ?? 'n/a',
            fmtSpread(s.reqPerSec, 0),
            ...(goodput ? [s.goodputPerSec ? fmtSpread(s.goodputPerSec, 0) : 'n/a'] : []),
            ...latencyCells(s),
            s.errors,
            s.non2xx,
            fmt(lag, 2),
          ]),
        );
      }
    }
    L.push('');
  }

  const streams = ok.filter((t) => t.series.some((s) => s.mode === 'stream'));
  if (streams.length) {
    L.push('## Streams (real-time WebSocket streams; latency = result received − intended send of the frame completing the window)');
    L.push('');
    const head = [...leadHead, 'streams', 'windows/s expected', 'results/s', 'within objective', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'send lag p99 ms', 'errors', 'missing'];
    L.push(md(head));
    L.push(md(head.map((_, i) => (i < leadHead.length ? '---' : '---:'))));
    for (const t of streams) {
      for (const s of t.series.filter((x) => x.mode === 'stream')) {
        const within = s.runs.reduce((a, x) => a + (x.withinObjective ?? 0), 0);
        const got = s.runs.reduce((a, x) => a + x.ok2xx, 0);
        L.push(
          md([
            ...lead(t, s.errors > 0),
            s.connections,
            fmt(s.offeredRate, 1),
            fmtSpread(s.reqPerSec, 1),
            got ? `${fmt((100 * within) / got, 2)}%` : 'n/a',
            ...latencyCells(s),
            fmt(Math.max(...s.runs.map((x) => x.sendLagP99Ms ?? 0)), 2),
            s.errors,
            s.runs.reduce((a, x) => a + (x.incomplete ?? 0), 0),
          ]),
        );
      }
    }
    L.push('');
  }

  if (r.inProcess) {
    const ip = r.inProcess;
    const labels = ip.ceilings.some((c) => c.label);
    L.push('## In-process (no HTTP, in the bench process)');
    L.push('');
    L.push(`Model ${ip.model}${ip.what ? `; one run = ${ip.what}` : ''}${labels ? '.' : '; worker threads with intraOpNumThreads 1 each, prebuilt batches of real data.'}`);
    L.push('');
    L.push(labels ? '| what | workers | batch | rows/s |' : '| workers | batch | rows/s |');
    L.push(labels ? '| --- | ---: | ---: | ---: |' : '| ---: | ---: | ---: |');
    for (const c of ip.ceilings) L.push(`| ${labels ? `${c.label ?? ''} | ` : ''}${c.workers} | ${c.batch} | ${fmtSpread(c.rowsPerSec, 0)} |`);
    L.push('');
    const s = ip.singleRun;
    if (s) {
      L.push(
        `Single run (batch ${s.batch}, 1 thread, ${s.runs} runs): p50 ${fmt(s.latencyMs.p50, 3)} ms, p90 ${fmt(s.latencyMs.p90, 3)} ms, p99 ${fmt(s.latencyMs.p99, 3)} ms, max ${fmt(s.latencyMs.max, 3)} ms.`,
      );
      L.push('');
    }
    if (ip.codec) {
      L.push(`Codec (${ip.codec.what}): decode ${fmtSpread(ip.codec.decodeUs, 2)} µs, encode ${fmtSpread(ip.codec.encodeUs, 2)} µs per request.`);
      L.push('');
    }
  }

  if (r.charts?.length) {
    L.push('## Charts');
    L.push('');
    for (const c of r.charts) L.push(`![${c}](${c})`);
    L.push('');
  }

  if (r.targets.length) {
    L.push('## Targets');
    L.push('');
    for (const t of r.targets) {
      const state = t.status === 'ok' ? (hasErrors(t) ? 'ok, WITH ERRORS ⚠' : 'ok') : `${t.status.toUpperCase()}: ${t.reason ?? ''}`;
      L.push(`- **${t.name}**${t.variant ? ` [${t.variant}]` : ''} (${t.role}) — ${state}. ${t.description}`);
      if (t.command) L.push(`  - command: \`${t.command.join(' ')}\``);
      if (t.cpu) {
        L.push(
          `  - CPU under load: server ${t.cpu.serverCoreS} core-s, load generator ${t.cpu.loadgenCoreS} core-s, other processes ${t.cpu.otherCoreS} core-s over ${t.cpu.wallS} s`,
        );
      }
      if (t.preflight) {
        const p = t.preflight;
        L.push(
          `  - preflight: ${p.ok ? 'ok' : 'FAILED'}, status ${p.status ?? 'n/a'}, response ${p.responseBytes ?? 'n/a'} bytes` +
            (p.checked ? `, ${p.checked} outputs checked against the in-process model (max |diff| ${p.maxAbsDiff?.toExponential(2) ?? 'n/a'})` : '') +
            (p.error ? `, error: ${p.error}` : ''),
        );
      }
    }
    L.push('');
  }

  L.push('## Flags');
  L.push('');
  if (r.flags.length === 0) L.push('none');
  for (const f of r.flags) L.push(`- ${f}`);
  L.push('');
  return L.join('\n');
}

// ---------- schema check ----------

type Path = string;

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Structural check of a result object; returns the problems found (empty = valid). */
export function validateResult(x: unknown): string[] {
  const errs: string[] = [];
  const need = (cond: boolean, p: Path, what: string) => {
    if (!cond) errs.push(`${p}: ${what}`);
  };
  const num = (v: unknown, p: Path) => need(typeof v === 'number' && Number.isFinite(v), p, 'finite number expected');
  const nonneg = (v: unknown, p: Path) => need(typeof v === 'number' && Number.isFinite(v) && v >= 0, p, 'number >= 0 expected');
  const str = (v: unknown, p: Path) => need(typeof v === 'string' && v.length > 0, p, 'non-empty string expected');
  const spreadOk = (v: unknown, p: Path) => {
    if (!isObj(v)) return need(false, p, 'spread object expected');
    for (const k of ['median', 'min', 'max']) nonneg(v[k], `${p}.${k}`);
    need(Array.isArray(v.values) && v.values.length > 0, `${p}.values`, 'non-empty array expected');
    if (typeof v.min === 'number' && typeof v.max === 'number' && typeof v.median === 'number') {
      need(v.min <= v.median && v.median <= v.max, p, 'min <= median <= max violated');
    }
  };
  const latOk = (v: unknown, p: Path) => {
    if (!isObj(v)) return need(false, p, 'latency object expected');
    for (const k of ['p50', 'p90', 'p99', 'max', 'mean']) nonneg(v[k], `${p}.${k}`);
    if ([v.p50, v.p90, v.p99, v.max].every((q) => typeof q === 'number')) {
      const [a, b, c, d] = [v.p50, v.p90, v.p99, v.max] as number[];
      need(a <= b && b <= c && c <= d, p, 'percentiles must be ordered p50 <= p90 <= p99 <= max');
    }
  };

  if (!isObj(x)) return ['result: object expected'];
  need(x.schemaVersion === RESULT_SCHEMA_VERSION, 'schemaVersion', `must be ${RESULT_SCHEMA_VERSION}`);
  str(x.scenario, 'scenario');
  need(x.mode === 'quick' || x.mode === 'full', 'mode', 'quick|full expected');
  for (const k of ['startedAt', 'finishedAt']) need(typeof x[k] === 'string' && !Number.isNaN(Date.parse(x[k] as string)), k, 'ISO date expected');
  nonneg(x.elapsedS, 'elapsedS');

  const c = x.config;
  if (!isObj(c)) errs.push('config: object expected');
  else {
    need(Array.isArray(c.connections) && c.connections.length > 0 && c.connections.every((n) => Number.isInteger(n) && (n as number) > 0), 'config.connections', 'positive integers expected');
    nonneg(c.durationS, 'config.durationS');
    nonneg(c.warmupS, 'config.warmupS');
    need(Number.isInteger(c.repeats) && (c.repeats as number) >= 1, 'config.repeats', 'integer >= 1 expected');
    if (isObj(c.requestBodyBytes)) for (const k of ['min', 'max', 'mean']) nonneg(c.requestBodyBytes[k], `config.requestBodyBytes.${k}`);
    else errs.push('config.requestBodyBytes: object expected');
  }

  const m = x.machine;
  if (!isObj(m)) errs.push('machine: object expected');
  else {
    str(m.cpuModel, 'machine.cpuModel');
    need(Number.isInteger(m.cores) && (m.cores as number) >= 1, 'machine.cores', 'integer >= 1 expected');
    need(typeof m.node === 'string' && /^v\d+/.test(m.node), 'machine.node', 'node version expected');
    need(isObj(m.packages), 'machine.packages', 'object expected');
    need(isObj(m.git), 'machine.git', 'object expected');
  }
  const pin = x.pinning;
  if (!isObj(pin)) errs.push('pinning: object expected');
  else {
    need(typeof pin.enabled === 'boolean', 'pinning.enabled', 'boolean expected');
    str(pin.note, 'pinning.note');
  }
  const inp = x.input;
  if (!isObj(inp)) errs.push('input: object expected');
  else {
    need(inp.kind === 'speech' || inp.kind === 'flights', 'input.kind', 'speech|flights expected');
    str(inp.description, 'input.description');
    need(Number.isInteger(inp.items) && (inp.items as number) >= 1, 'input.items', 'integer >= 1 expected');
    need(isObj(inp.facts), 'input.facts', 'object expected');
    if (!Array.isArray(inp.sources) || inp.sources.length === 0) errs.push('input.sources: non-empty array expected');
    else {
      inp.sources.forEach((src, i) => {
        if (!isObj(src)) return errs.push(`input.sources[${i}]: object expected`);
        str(src.path, `input.sources[${i}].path`);
        need(typeof src.sha256 === 'string' && /^[0-9a-f]{64}$/.test(src.sha256), `input.sources[${i}].sha256`, 'sha256 hex expected');
      });
    }
  }

  if (x.inProcess !== null) {
    const ip = x.inProcess;
    if (!isObj(ip)) errs.push('inProcess: object or null expected');
    else {
      need(Array.isArray(ip.ceilings), 'inProcess.ceilings', 'array expected');
      if (Array.isArray(ip.ceilings)) {
        ip.ceilings.forEach((cl, i) => {
          const p = `inProcess.ceilings[${i}]`;
          if (!isObj(cl)) return errs.push(`${p}: object expected`);
          need(Number.isInteger(cl.workers) && (cl.workers as number) >= 1, `${p}.workers`, 'integer >= 1 expected');
          need(Number.isInteger(cl.batch) && (cl.batch as number) >= 1, `${p}.batch`, 'integer >= 1 expected');
          spreadOk(cl.rowsPerSec, `${p}.rowsPerSec`);
        });
      }
      if (isObj(ip.singleRun)) latOk(ip.singleRun.latencyMs, 'inProcess.singleRun.latencyMs');
      else need(ip.singleRun === null, 'inProcess.singleRun', 'object or null expected');
      if (ip.codec !== undefined) {
        if (!isObj(ip.codec)) errs.push('inProcess.codec: object expected');
        else {
          need(typeof ip.codec.what === 'string', 'inProcess.codec.what', 'string expected');
          spreadOk(ip.codec.decodeUs, 'inProcess.codec.decodeUs');
          spreadOk(ip.codec.encodeUs, 'inProcess.codec.encodeUs');
        }
      }
    }
  }

  const inProcessOnly = isObj(x.inProcess) && Array.isArray(x.inProcess.ceilings) && x.inProcess.ceilings.length > 0;
  if (!Array.isArray(x.targets) || (x.targets.length === 0 && !inProcessOnly)) errs.push('targets: non-empty array expected (or in-process measurements)');
  else {
    x.targets.forEach((t, i) => {
      const p = `targets[${i}]`;
      if (!isObj(t)) return errs.push(`${p}: object expected`);
      str(t.name, `${p}.name`);
      need(['ours', 'naive', 'http-ceiling'].includes(t.role as string), `${p}.role`, 'ours|naive|http-ceiling expected');
      need(['ok', 'skipped', 'failed'].includes(t.status as string), `${p}.status`, 'ok|skipped|failed expected');
      need(Array.isArray(t.flags), `${p}.flags`, 'array expected');
      if (t.status !== 'ok') str(t.reason, `${p}.reason`);
      if (!Array.isArray(t.series)) return errs.push(`${p}.series: array expected`);
      if (t.status === 'ok') need(t.series.length > 0, `${p}.series`, 'ok target needs measurements');
      t.series.forEach((s, j) => {
        const q = `${p}.series[${j}]`;
        if (!isObj(s)) return errs.push(`${q}: object expected`);
        need(s.mode === 'closed' || s.mode === 'open' || s.mode === 'stream', `${q}.mode`, 'closed|open|stream expected');
        if (s.goodputPerSec !== undefined) spreadOk(s.goodputPerSec, `${q}.goodputPerSec`);
        need(Number.isInteger(s.connections) && (s.connections as number) >= 1, `${q}.connections`, 'integer >= 1 expected');
        spreadOk(s.reqPerSec, `${q}.reqPerSec`);
        if (isObj(s.latencyMs)) for (const k of ['p50', 'p90', 'p99', 'max']) spreadOk(s.latencyMs[k], `${q}.latencyMs.${k}`);
        else errs.push(`${q}.latencyMs: object expected`);
        for (const k of ['errors', 'non2xx', 'timeouts']) need(Number.isInteger(s[k]) && (s[k] as number) >= 0, `${q}.${k}`, 'integer >= 0 expected');
        if (!Array.isArray(s.runs) || s.runs.length === 0) return errs.push(`${q}.runs: non-empty array expected`);
        s.runs.forEach((run, k) => {
          const rp = `${q}.runs[${k}]`;
          if (!isObj(run)) return errs.push(`${rp}: object expected`);
          nonneg(run.reqPerSec, `${rp}.reqPerSec`);
          latOk(run.latencyMs, `${rp}.latencyMs`);
          for (const f of ['responses', 'ok2xx', 'errors', 'timeouts', 'non2xx']) need(Number.isInteger(run[f]) && (run[f] as number) >= 0, `${rp}.${f}`, 'integer >= 0 expected');
          need(isObj(run.statusCodes), `${rp}.statusCodes`, 'object expected');
          if (run.withinObjective !== undefined) {
            need(Number.isInteger(run.withinObjective) && (run.withinObjective as number) >= 0 && (run.withinObjective as number) <= (run.ok2xx as number), `${rp}.withinObjective`, 'integer in [0, ok2xx] expected');
          }
        });
        if (Array.isArray(s.runs) && isObj(s.reqPerSec)) {
          need((s.reqPerSec.values as unknown[]).length === s.runs.length, `${q}.reqPerSec.values`, 'one value per run expected');
        }
      });
    });
  }

  if (!Array.isArray(x.ratios)) errs.push('ratios: array expected');
  else {
    x.ratios.forEach((r, i) => {
      const p = `ratios[${i}]`;
      if (!isObj(r)) return errs.push(`${p}: object expected`);
      str(r.key, `${p}.key`);
      str(r.label, `${p}.label`);
      need(r.unit === 'x' || r.unit === 'ms', `${p}.unit`, 'x|ms expected');
      if (r.value === null) str(r.reason, `${p}.reason`);
      else num(r.value, `${p}.value`);
    });
  }
  if (x.sections !== undefined) {
    if (!Array.isArray(x.sections)) errs.push('sections: array expected');
    else {
      x.sections.forEach((sec, i) => {
        if (!isObj(sec)) return errs.push(`sections[${i}]: object expected`);
        str(sec.title, `sections[${i}].title`);
        const cols = Array.isArray(sec.columns) ? sec.columns.length : -1;
        need(cols > 0, `sections[${i}].columns`, 'non-empty array expected');
        need(Array.isArray(sec.rows) && sec.rows.every((row) => Array.isArray(row) && row.length === cols), `sections[${i}].rows`, 'rows with one cell per column expected');
      });
    }
  }
  if (x.charts !== undefined) need(Array.isArray(x.charts) && x.charts.every((c) => typeof c === 'string' && /^[\w.-]+\.svg$/.test(c)), 'charts', 'array of .svg file names expected');
  need(Array.isArray(x.flags) && x.flags.every((f) => typeof f === 'string'), 'flags', 'array of strings expected');
  return errs;
}

/** Writes result.json, summary.md and the charts (their file names are recorded in result.charts). */
export function writeResult(outDir: string, result: BenchResult): { json: string; md: string; charts: string[] } {
  mkdirSync(outDir, { recursive: true });
  const json = path.join(outDir, 'result.json');
  const md = path.join(outDir, 'summary.md');
  const charts = renderCharts(result);
  for (const c of charts) writeFileSync(path.join(outDir, c.file), c.svg);
  result.charts = charts.map((c) => c.file);
  writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(md, renderSummary(result));
  return { json, md, charts: charts.map((c) => path.join(outDir, c.file)) };
}
