/**
 * The HTML monitoring report of a model (GET /v2/models/{m}/monitoring/report): one
 * self-contained page, inline SVG only. Per version and window spec: drift scores and
 * live AUC over the closed windows, a table of the windows, and for the newest window
 * the baseline vs live histogram of every column and of the predictions.
 */
import { BaselineColumn } from './baseline';
import { barChart, esc, lineChart } from './svg';
import { ModelStatus, SpecView, VersionView, WindowView } from './status';

const STYLE = `body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}
td.l,th.l{text-align:left}.flag{color:#b00;font-weight:600}.ok{color:#2a7}.muted{color:#777}
.charts{display:flex;flex-wrap:wrap;gap:12px}svg{background:#fff;border:1px solid #eee}
.chart-title{font-size:13px;font-weight:600}.tick{font-size:10px;fill:#555}.grid{stroke:#eee}`;

const num = (v: number | null | undefined, d = 4) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

function label(s: SpecView, w: WindowView): string {
  if (s.type === 'time' && w.from) return w.from.slice(0, s.step % 86_400_000 === 0 ? 10 : 16).replace('T', ' ');
  return `${w.start}–${w.end - 1}`;
}

function shares(counts: ArrayLike<number>): number[] {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i];
  return Array.from(counts, (c) => (n ? c / n : NaN));
}

function categoriesOf(c: BaselineColumn): string[] {
  if (c.kind === 'categorical') return c.categories;
  return c.edges.slice(0, -1).map((e, i) => (c.derive === 'hour_of_day' ? String(e) : `${+e.toPrecision(4)}–${+c.edges[i + 1].toPrecision(4)}`));
}

function histograms(w: WindowView, columns: BaselineColumn[], prediction: BaselineColumn): string {
  const s = w.sketch;
  if (!s) return '';
  const charts = columns.map((c, j) =>
    barChart({ id: `histogram-${c.name}`, title: `${c.name}: baseline vs live`, categories: categoriesOf(c), series: [{ name: 'baseline', values: shares(c.counts) }, { name: 'live', values: shares(s.counts[j]) }] }),
  );
  charts.push(barChart({ id: 'histogram-prediction', title: 'prediction: baseline vs live', categories: categoriesOf(prediction), series: [{ name: 'baseline', values: shares(prediction.counts) }, { name: 'live', values: shares(s.prediction) }] }));
  return `<div class="charts">${charts.join('')}</div>`;
}

function timeline(s: SpecView, v: VersionView): string {
  if (s.closed.length === 0) return '<p class="muted">No closed window yet.</p>';
  const x = s.closed.map((w) => label(s, w));
  const cols = [...new Set(s.closed.flatMap((w) => w.drift.columns.map((c) => c.column)))];
  const distance = cols.filter((c) => s.closed.some((w) => w.drift.columns.find((d) => d.column === c)?.score_type === 'distance'));
  const drift = lineChart({
    id: 'drift-over-time', title: 'Drift score per column (distance tests)', x,
    series: [...distance.map((c) => ({ name: c, values: s.closed.map((w) => w.drift.columns.find((d) => d.column === c)?.score ?? null) })),
      { name: 'prediction', values: s.closed.map((w) => w.predictions?.score ?? null) },
      // The proportion test's score is a p-value, not a distance: shown in the table instead.
      { name: 'target', values: s.closed.map((w) => (w.performance.target_drift && w.performance.target_drift.test !== 'two_proportion_z' ? w.performance.target_drift.score : null)) }],
    refs: [{ value: 0.1, label: 'threshold 0.1', color: '#b00' }],
  });
  const refs = v.baseline.held_out_auc === null ? [] : [{ value: v.baseline.held_out_auc, label: `held-out AUC ${v.baseline.held_out_auc.toFixed(3)}`, color: '#2a7' }];
  const aucs = s.closed.map((w) => w.performance.auc);
  const lo = Math.min(0.5, ...aucs.filter((a): a is number => a !== null).map((a) => Math.floor(a * 20) / 20));
  const auc = lineChart({ id: 'auc-over-time', title: 'Live AUC per window', x, series: [{ name: 'live AUC', values: aucs }], refs, lo, hi: 1 });
  const rate = lineChart({
    id: 'label-rate-over-time', title: 'Positive label share per window', x, lo: 0,
    series: [{ name: 'live', values: s.closed.map((w) => (w.performance.labelled ? w.performance.positive_rate : null)) }, { name: 'mean prediction', values: s.closed.map((w) => w.predictions?.mean ?? null) }],
    refs: v.baseline.label_rate === null ? [] : [{ value: v.baseline.label_rate, label: 'reference', color: '#888' }],
  });
  return `<div class="charts">${drift}${auc}${rate}</div>`;
}

function windowTable(s: SpecView): string {
  const rows = [...s.closed, ...(s.current ? [s.current] : [])].reverse();
  const head = '<tr><th class="l">window</th><th>rows</th><th>flagged</th><th>input drift share</th><th>prediction</th><th>labels</th><th>label share</th><th>target drift</th><th>AUC</th><th>accuracy</th><th>log loss</th><th>ECE</th></tr>';
  const body = rows.map((w) => {
    const p = w.predictions;
    const t = w.performance.target_drift;
    return `<tr><td class="l">${esc(label(s, w))}${w.closed ? '' : ' <span class="muted">(open)</span>'}</td><td>${w.rows}</td>`
      + `<td class="${w.flagged ? 'flag' : 'ok'}">${w.flagged ? 'drift' : 'ok'}</td><td>${num(w.drift.share, 2)} (${w.drift.drifted}/${w.drift.tested})</td>`
      + `<td>${p ? `${num(p.score, 3)}${p.drifted ? (p.comparable ? ' ⚠' : ' <span class="muted">(calendar)</span>') : ''}` : '–'}</td>`
      + `<td>${w.performance.labelled}</td><td>${w.performance.labelled ? num(w.performance.positive_rate, 3) : '–'}</td>`
      + `<td class="${t?.drifted ? 'flag' : ''}">${t ? (t.difference !== undefined ? `${t.difference >= 0 ? '+' : ''}${num(100 * t.difference, 1)} pt (p ${t.score.toPrecision(2)})` : num(t.score, 3)) : '–'}</td><td>${num(w.performance.auc)}</td><td>${num(w.performance.accuracy)}</td><td>${num(w.performance.log_loss)}</td><td>${num(w.performance.ece)}</td></tr>`;
  });
  return `<table data-table="windows">${head}${body.join('')}</table>`;
}

function driftTable(w: WindowView): string {
  const rows = w.drift.columns.map((c) => `<tr><td class="l">${esc(c.column)}</td><td class="l">${esc(c.test)}</td><td>${num(c.score)}</td><td>${c.threshold}</td><td class="${c.drifted ? 'flag' : 'ok'}">${c.drifted ? 'drift' : c.error ? esc(c.error) : 'ok'}</td></tr>`);
  const skipped = w.drift.skipped.map((k) => `<tr><td class="l">${esc(k.column)}</td><td class="l muted" colspan="4">skipped: ${esc(k.reason)}</td></tr>`);
  return `<table data-table="columns"><tr><th class="l">column</th><th class="l">test</th><th>score</th><th>threshold</th><th>result</th></tr>${rows.join('')}${skipped.join('')}</table>`;
}

export function renderReport(status: ModelStatus, columnsOf: (v: number) => { columns: BaselineColumn[]; prediction: BaselineColumn } | undefined = () => undefined): string {
  const parts = [`<h1>Monitoring: ${esc(status.model)}</h1>`];
  if (status.versions.length === 0) parts.push(`<p>No monitored version (a version needs a card.json with a profile). Unmonitored: ${esc(status.unmonitored_versions.join(', ') || 'none')}.</p>`);
  for (const v of status.versions) {
    const b = v.baseline;
    parts.push(`<h2>Version ${v.version}</h2><p>Baseline: window <b>${esc(b.window)}</b>, ${b.rows} rows; label share ${num(b.label_rate, 3)} (${esc(b.label_source ?? '–')}); held-out AUC ${num(b.held_out_auc)}; threshold ${num(b.threshold)}. Observed ${v.rows_observed} rows; log ${v.log.rows} rows, ${v.log.labelled} labelled (sample rate ${v.log.sample_rate}). Requests in the last ${Math.round(v.ops.span_ms / 1000)} s: ${v.ops.requests}, errors ${v.ops.errors}, p99 ${num(v.ops.p99_ms, 1)} ms.</p>`);
    const cols = columnsOf(v.version);
    for (const s of v.windows) {
      const newest = s.current ?? s.closed[s.closed.length - 1];
      parts.push(`<h3>Window '${esc(s.name)}' (${s.type}${s.type === 'time' ? `, ${s.clock} clock` : ''}, length ${s.length}, step ${s.step})</h3>`);
      parts.push(timeline(s, v), windowTable(s));
      if (newest) {
        parts.push(`<h3>Newest window: ${esc(label(s, newest))}${newest.closed ? '' : ' (open)'}</h3>`, driftTable(newest));
        if (cols) parts.push(histograms(newest, cols.columns, cols.prediction));
      }
    }
  }
  const alerts = status.alerts.slice().reverse().map((a) => `<tr><td class="l">${esc(a.at)}</td><td class="l">${esc(a.rule)}</td><td>${a.version}</td><td class="l">${esc(a.window ?? '')}</td><td class="l">${esc(a.message)}</td></tr>`);
  parts.push(`<h2>Alerts</h2>${alerts.length ? `<table data-table="alerts"><tr><th class="l">at</th><th class="l">rule</th><th>version</th><th class="l">window</th><th class="l">message</th></tr>${alerts.join('')}</table>` : '<p class="muted">None.</p>'}`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Monitoring: ${esc(status.model)}</title><style>${STYLE}</style></head><body>${parts.join('\n')}</body></html>`;
}
