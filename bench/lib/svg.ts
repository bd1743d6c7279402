/**
 * A tiny SVG line-chart writer (no dependency): x/y axes with "nice" ticks, optional
 * log-scale y, one polyline with point markers per series, a legend, an optional
 * horizontal reference line (e.g. a latency objective). Pure: returns the SVG text.
 */

export interface ChartSeries {
  name: string;
  /** [x, y] points, drawn in the given order. */
  points: [number, number][];
  dashed?: boolean;
  /** Series with the same key share a colour (e.g. one target's closed and open loop). */
  colorKey?: string;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** Logarithmic y axis (latencies spanning decades); values <= 0 are dropped. */
  logY?: boolean;
  /** Logarithmic x axis; values <= 0 are dropped. */
  logX?: boolean;
  /** A horizontal reference line. */
  hline?: { y: number; label: string };
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round step (1, 2, 5 × 10^k) giving about `count` ticks over [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.75) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+(Math.round(v / step) * step).toPrecision(12));
  return out;
}

/** Decades (and 2, 5 within them when few decades) covering [lo, hi], lo > 0. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const few = Math.log10(hi / lo) < 2.5;
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of few ? [1, 2, 5] : [1]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

export function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 1) return String(+v.toPrecision(4));
  return String(+v.toPrecision(2));
}

export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 760;
  const H = spec.height ?? 440;
  const m = { left: 70, right: 210, top: 40, bottom: 55 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const series = spec.series.map((s) => ({
    ...s,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.logY || y > 0) && (!spec.logX || x > 0)),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  if (spec.hline && (!spec.logY || spec.hline.y > 0)) ys.push(spec.hline.y);
  const L: string[] = [];
  L.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  L.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  L.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`);
  if (xs.length === 0) {
    L.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text></svg>`);
    return L.join('\n') + '\n';
  }
  const logAxis = (vs: number[]) => {
    let lo = 10 ** Math.floor(Math.log10(Math.min(...vs)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...vs)));
    if (hi <= lo) lo = hi / 10;
    return { lo, hi, t: (v: number) => (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)), ticks: logTicks(lo, hi) };
  };
  let tx: (x: number) => number;
  let xt: number[];
  if (spec.logX) {
    const a = logAxis(xs);
    tx = (x) => m.left + a.t(x) * pw;
    xt = a.ticks;
  } else {
    const x1 = Math.max(...xs) * 1.05 || 1;
    tx = (x) => m.left + (x / x1) * pw;
    xt = niceTicks(0, x1, 6);
  }
  let ty: (y: number) => number;
  let yt: number[];
  if (spec.logY) {
    const a = logAxis(ys);
    ty = (y) => m.top + ph - a.t(y) * ph;
    yt = a.ticks;
  } else {
    const y1 = Math.max(...ys) * 1.1 || 1;
    ty = (y) => m.top + ph - (y / y1) * ph;
    yt = niceTicks(0, y1);
  }
  const f = (v: number) => v.toFixed(1);
  // grid and axes
  for (const v of yt) {
    L.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${f(ty(v))}" y2="${f(ty(v))}" stroke="#e5e5e5"/>`);
    L.push(`<text x="${m.left - 6}" y="${f(ty(v) + 4)}" text-anchor="end">${fmtTick(v)}</text>`);
  }
  for (const v of xt) {
    L.push(`<line x1="${f(tx(v))}" x2="${f(tx(v))}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    L.push(`<text x="${f(tx(v))}" y="${m.top + ph + 16}" text-anchor="middle">${fmtTick(v)}</text>`);
  }
  L.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  L.push(`<text x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle">${escapeXml(spec.xLabel)}${spec.logX ? ' (log)' : ''}</text>`);
  L.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}${spec.logY ? ' (log)' : ''}</text>`);
  if (spec.hline && (!spec.logY || spec.hline.y > 0)) {
    const y = f(ty(spec.hline.y));
    L.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="6 4"/>`);
    L.push(`<text x="${m.left + 6}" y="${+y - 4}" fill="#555">${escapeXml(spec.hline.label)}</text>`);
  }
  const keys = [...new Set(series.map((s, i) => s.colorKey ?? `#${i}`))];
  series.forEach((s, i) => {
    const color = PALETTE[keys.indexOf(s.colorKey ?? `#${i}`) % PALETTE.length];
    const pts = s.points.map(([x, y]) => `${f(tx(x))},${f(ty(y))}`);
    if (pts.length > 1) {
      L.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${pts.join(' ')}"/>`);
    }
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      L.push(s.dashed ? `<circle cx="${cx}" cy="${cy}" r="4" fill="white" stroke="${color}" stroke-width="2"/>` : `<circle cx="${cx}" cy="${cy}" r="3.5" fill="${color}"/>`);
    }
    const ly = m.top + 10 + i * 20;
    L.push(`<line x1="${m.left + pw + 14}" x2="${m.left + pw + 38}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    L.push(`<text x="${m.left + pw + 44}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  L.push('</svg>');
  return L.join('\n') + '\n';
}
