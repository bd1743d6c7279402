/**
 * Quality gates: floors/ceilings on a metric per window, and "the model (MLP or GBDT) beats
 * the baseline" by a margin. A pipeline with any failed gate registers nothing.
 */
import type { Metrics } from '../stats/classification';
import { Gate, gateWindows, LOWER_IS_BETTER, PipelineConfig } from './pipeline-config';

export interface GateResult {
  gate: string;
  window: string;
  passed: boolean;
  detail: string;
}

export type WindowMetrics = Record<string, Metrics>;

function gateName(g: Gate, i: number, modelName: string): string {
  if (g.name) return g.name;
  if (g.beats_baseline_by !== undefined) return `${g.metric} beats baseline`;
  return `${g.model ?? modelName} ${g.metric}${g.min !== undefined ? ` ≥ ${g.min}` : ''}${g.max !== undefined ? ` ≤ ${g.max}` : ''} (#${i})`;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** Checks every gate on every window it covers; NaN metrics fail. `mlp` holds the pipeline's model (named `modelName`). */
export function checkGates(cfg: PipelineConfig, mlp: WindowMetrics, baseline: WindowMetrics, modelName = 'mlp'): GateResult[] {
  const out: GateResult[] = [];
  cfg.gates.forEach((g, i) => {
    const name = gateName(g, i, modelName);
    for (const w of gateWindows(g, cfg)) {
      const m = (g.model === 'baseline' ? baseline : mlp)[w];
      if (!m) {
        out.push({ gate: name, window: w, passed: false, detail: `no metrics for window '${w}'` });
        continue;
      }
      const v = m[g.metric];
      if (g.min !== undefined) out.push({ gate: name, window: w, passed: v >= g.min, detail: `${g.metric} ${fmt(v)} (min ${g.min})` });
      if (g.max !== undefined) out.push({ gate: name, window: w, passed: v <= g.max, detail: `${g.metric} ${fmt(v)} (max ${g.max})` });
      if (g.beats_baseline_by !== undefined) {
        const mine = mlp[w][g.metric];
        const base = baseline[w]?.[g.metric] ?? NaN;
        const margin = LOWER_IS_BETTER.has(g.metric) ? base - mine : mine - base;
        out.push({ gate: name, window: w, passed: margin >= g.beats_baseline_by, detail: `${modelName} ${fmt(mine)} vs baseline ${fmt(base)} (margin ${fmt(margin)}, need ${g.beats_baseline_by})` });
      }
    }
  });
  return out;
}

export function formatGates(results: GateResult[]): string {
  return results.map((r) => `  ${r.passed ? 'pass' : 'FAIL'}  ${r.gate} [${r.window}]: ${r.detail}`).join('\n');
}
