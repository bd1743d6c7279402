/**
 * Small inline-SVG charts for the monitoring report: grouped bars (baseline vs live
 * shares per bin) and lines over windows (drift scores, live AUC) with reference lines.
 * Pure string building, no scripts or external resources; every chart carries
 * data-chart for tests and a <title> per mark for hover text.
 */

export const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac', '#eeca3b'];

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const FRAME: Frame = { width: 640, height: 220, left: 48, right: 12, top: 26, bottom: 46 };

function axis(f: Frame, lo: number, hi: number, title: string, id: string): { y: (v: number) => number; parts: string[] } {
  const h = f.height - f.top - f.bottom;
  const y = (v: number) => f.top + h - ((v - lo) / (hi - lo || 1)) * h;
  const parts = [`<text x="${f.left}" y="16" class="chart-title">${esc(title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    parts.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${f.left - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${fmt(v)}</text>`);
  }
  return { y, parts: [`<!-- ${esc(id)} -->`, ...parts] };
}

function legend(f: Frame, names: string[], colors: string[]): string {
  // One row: entries share the width, long names are cut to fit (~5.5 px per character).
  const step = Math.min(130, (f.width - f.left) / Math.max(1, names.length));
  const chars = Math.max(4, Math.floor((step - 18) / 5.5));
  return names.map((n, i) => `<g transform="translate(${(f.left + i * step).toFixed(1)},${f.height - 10})"><rect width="10" height="10" y="-9" fill="${colors[i]}"/><text x="14" y="0" class="tick">${esc(n.length > chars ? n.slice(0, chars - 1) + '…' : n)}<title>${esc(n)}</title></text></g>`).join('');
}

/** Grouped bars: categories on x, one bar per series. */
export function barChart(o: { id: string; title: string; categories: string[]; series: { name: string; values: number[]; color?: string }[] }): string {
  const f = FRAME;
  const hi = Math.max(1e-9, ...o.series.flatMap((s) => s.values.filter(Number.isFinite)));
  const { y, parts } = axis(f, 0, hi, o.title, o.id);
  const w = (f.width - f.left - f.right) / Math.max(1, o.categories.length);
  const bw = (w * 0.8) / o.series.length;
  const colors = o.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  o.categories.forEach((c, i) => {
    o.series.forEach((s, j) => {
      const v = s.values[i];
      if (!Number.isFinite(v)) return;
      const x = f.left + i * w + w * 0.1 + j * bw;
      parts.push(`<rect class="bar" data-series="${esc(s.name)}" x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${Math.max(bw - 1, 0.5).toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="${colors[j]}"><title>${esc(`${c} · ${s.name}: ${fmt(v)}`)}</title></rect>`);
    });
    // Label every k-th bin so that the labels (≤ 8 characters) do not overlap.
    const every = Math.max(1, Math.ceil(46 / w));
    if (i % every === 0) {
      parts.push(`<text x="${(f.left + i * w + w / 2).toFixed(1)}" y="${f.height - f.bottom + 12}" text-anchor="middle" class="tick">${esc(c.length > 8 ? c.slice(0, 7) + '…' : c)}</text>`);
    }
  });
  parts.push(legend(f, o.series.map((s) => s.name), colors));
  return `<svg data-chart="${esc(o.id)}" role="img" aria-label="${esc(o.title)}" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}">${parts.join('')}</svg>`;
}

/** Lines over windows; null values break a line; reference lines are dashed. */
export function lineChart(o: { id: string; title: string; x: string[]; series: { name: string; values: (number | null)[]; color?: string }[]; refs?: { value: number; label: string; color?: string }[]; lo?: number; hi?: number }): string {
  const f = FRAME;
  const vals = [...o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v))), ...(o.refs ?? []).map((r) => r.value)];
  const lo = o.lo ?? Math.min(0, ...vals);
  const hi = o.hi ?? Math.max(lo + 1e-9, ...vals) * 1.05;
  const { y, parts } = axis(f, lo, hi, o.title, o.id);
  const n = Math.max(1, o.x.length);
  const x = (i: number) => f.left + (n === 1 ? (f.width - f.left - f.right) / 2 : (i * (f.width - f.left - f.right)) / (n - 1));
  const colors = o.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  for (const r of o.refs ?? []) {
    parts.push(`<line class="ref" x1="${f.left}" x2="${f.width - f.right}" y1="${y(r.value).toFixed(1)}" y2="${y(r.value).toFixed(1)}" stroke="${r.color ?? '#888'}" stroke-dasharray="4 3"><title>${esc(`${r.label}: ${fmt(r.value)}`)}</title></line>`);
    parts.push(`<text x="${f.width - f.right}" y="${(y(r.value) - 3).toFixed(1)}" text-anchor="end" class="tick">${esc(r.label)}</text>`);
  }
  o.series.forEach((s, j) => {
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      d += `${d && s.values[i - 1] !== null && Number.isFinite(s.values[i - 1] as number) ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      parts.push(`<circle class="point" data-series="${esc(s.name)}" cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${colors[j]}"><title>${esc(`${o.x[i]} · ${s.name}: ${fmt(v)}`)}</title></circle>`);
    });
    if (d) parts.push(`<path class="line" data-series="${esc(s.name)}" d="${d}" fill="none" stroke="${colors[j]}" stroke-width="1.5"/>`);
  });
  const every = Math.ceil(n / 8);
  o.x.forEach((t, i) => {
    if (i % every === 0) parts.push(`<text x="${x(i).toFixed(1)}" y="${f.height - f.bottom + 12}" text-anchor="middle" class="tick">${esc(t)}</text>`);
  });
  parts.push(legend(f, o.series.map((s) => s.name), colors));
  return `<svg data-chart="${esc(o.id)}" role="img" aria-label="${esc(o.title)}" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}">${parts.join('')}</svg>`;
}
