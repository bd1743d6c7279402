/**
 * A drift report over many columns: one test per column (Evidently's default choice, or
 * configured per kind or per column), an optional multiple-testing correction of the
 * p-value tests (Bonferroni, or Benjamini–Hochberg FDR), and dataset drift as the share
 * of drifted columns reaching `drift_share` (Evidently: 0.5). Distance tests (Wasserstein,
 * PSI, Jensen–Shannon) give no p-value and are never corrected.
 */
import { ColumnKind, defaultTest, describePair, Distribution, isDrift, runTest, TEST_INFO, TestName, TestOptions } from './drift-tests';

export type Correction = 'none' | 'bonferroni' | 'bh';

export interface ColumnTestConfig {
  test?: TestName;
  threshold?: number;
  /** false: the column is left out of the report. */
  enabled?: boolean;
}

export interface DriftOptions extends TestOptions {
  /** Test for every numeric / categorical column instead of the default choice. */
  numeric_test?: TestName;
  categorical_test?: TestName;
  /** Threshold per test, overriding TEST_INFO's defaults. */
  thresholds?: Partial<Record<TestName, number>>;
  /** Per-column overrides, by column name. */
  columns?: Record<string, ColumnTestConfig>;
  correction?: Correction;
  /** Dataset drift when drifted / tested columns ≥ drift_share. */
  drift_share?: number;
}

export interface ColumnInput {
  name: string;
  kind: ColumnKind;
  reference: Distribution;
  current: Distribution;
}

export interface ColumnDrift {
  column: string;
  kind: ColumnKind;
  test: TestName;
  score_type: 'p_value' | 'distance';
  /** The p-value (after correction, when one applies) or the distance. */
  score: number;
  /** The p-value before correction. */
  raw_p_value?: number;
  statistic?: number;
  threshold: number;
  drifted: boolean;
  reference_rows: number;
  /** Why the column has no result (e.g. empty current window). */
  error?: string;
}

export interface DriftReport {
  columns: ColumnDrift[];
  tested: number;
  drifted: number;
  share: number;
  drift_share: number;
  dataset_drift: boolean;
  correction: Correction;
}

/** Adjusted p-values: Bonferroni min(1, m·p); BH step-up min_{j ≥ i} m·p_(j)/j. */
export function adjustPValues(p: number[], method: Correction): number[] {
  const m = p.length;
  if (method === 'none' || m === 0) return p.slice();
  if (method === 'bonferroni') return p.map((x) => Math.min(1, x * m));
  const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
  const out = new Array<number>(m);
  let running = 1;
  for (let r = m - 1; r >= 0; r--) {
    const i = order[r];
    running = Math.min(running, (p[i] * m) / (r + 1));
    out[i] = Math.min(1, running);
  }
  return out;
}

export function driftReport(inputs: ColumnInput[], opts: DriftOptions = {}): DriftReport {
  const correction = opts.correction ?? 'none';
  const driftShare = opts.drift_share ?? 0.5;
  const results: ColumnDrift[] = [];
  for (const c of inputs) {
    const cfg = opts.columns?.[c.name] ?? {};
    if (cfg.enabled === false) continue;
    const { referenceRows, distinct } = describePair(c.reference, c.current);
    const test = cfg.test ?? (c.kind === 'numeric' ? opts.numeric_test : opts.categorical_test) ?? defaultTest(c.kind, referenceRows, distinct);
    const threshold = cfg.threshold ?? opts.thresholds?.[test] ?? TEST_INFO[test].threshold;
    const base = { column: c.name, kind: c.kind, test, score_type: TEST_INFO[test].score, threshold, reference_rows: referenceRows };
    try {
      const r = runTest(test, c.reference, c.current, opts);
      results.push({ ...base, score: r.score, statistic: r.statistic, drifted: false, ...(TEST_INFO[test].score === 'p_value' ? { raw_p_value: r.score } : {}) });
    } catch (e) {
      results.push({ ...base, score: NaN, drifted: false, error: (e as Error).message });
    }
  }
  const pv = results.filter((r) => r.raw_p_value !== undefined && !r.error);
  const adjusted = adjustPValues(pv.map((r) => r.raw_p_value!), correction);
  pv.forEach((r, i) => (r.score = adjusted[i]));
  for (const r of results) if (!r.error) r.drifted = isDrift(r.test, r.score, r.threshold);
  const tested = results.filter((r) => !r.error).length;
  const drifted = results.filter((r) => r.drifted).length;
  const share = tested ? drifted / tested : 0;
  return { columns: results, tested, drifted, share, drift_share: driftShare, dataset_drift: tested > 0 && share >= driftShare, correction };
}
