/**
 * Drift tests over a column's reference and current distributions, named and chosen as
 * Evidently does. A distribution is either raw values (exact scipy-equivalent statistics)
 * or a sketch on bins shared by both sides (the live path: counts on the baseline's bins,
 * categorical top-K + other):
 *   ks            KS two-sample p-value                 drift when p < threshold (0.05)
 *   chisquare     Pearson chi-square p-value            drift when p < threshold (0.05)
 *   z             two-proportion z-test p-value         drift when p < threshold (0.05)
 *   wasserstein   Wasserstein / reference std           drift when ≥ threshold (0.1)
 *   psi           population stability index            drift when ≥ threshold (0.1)
 *   jensenshannon Jensen–Shannon distance (base 2)      drift when ≥ threshold (0.1)
 */
import { alignCounts, binnedShares, valueCounts } from './stats/binning';
import { chiSquare, fillZeroShares, jensenShannon, populationStd, psi, wasserstein, zProportions } from './stats/distances';
import { ks2samp, ks2sampCounts } from './stats/ks';

export type ColumnKind = 'numeric' | 'categorical';

/** One side of a comparison. Both sides of a test have the same form (and bins). */
export type Distribution =
  | { form: 'samples'; values: ArrayLike<number> }
  | { form: 'labels'; values: ArrayLike<string> }
  /** Counts on ordered bins; `points` places each bin on the axis; `std` is the raw values' std when known. */
  | { form: 'histogram'; points: ArrayLike<number>; counts: ArrayLike<number>; std?: number }
  | { form: 'counts'; counts: Map<string, number> };

export type TestName = 'ks' | 'chisquare' | 'z' | 'wasserstein' | 'psi' | 'jensenshannon';

export const TEST_NAMES: readonly TestName[] = ['ks', 'chisquare', 'z', 'wasserstein', 'psi', 'jensenshannon'];

export const TEST_INFO: Record<TestName, { score: 'p_value' | 'distance'; threshold: number; label: string }> = {
  ks: { score: 'p_value', threshold: 0.05, label: 'K-S p-value' },
  chisquare: { score: 'p_value', threshold: 0.05, label: 'chi-square p-value' },
  z: { score: 'p_value', threshold: 0.05, label: 'Z-test p-value' },
  wasserstein: { score: 'distance', threshold: 0.1, label: 'Wasserstein distance (normed)' },
  psi: { score: 'distance', threshold: 0.1, label: 'PSI' },
  jensenshannon: { score: 'distance', threshold: 0.1, label: 'Jensen-Shannon distance' },
};

export interface TestOptions {
  /** Logarithm base of the Jensen–Shannon distance: 2 as Evidently (default), Math.E as scipy's default. */
  jsBase?: number;
  /** Bins for raw numeric samples in PSI / Jensen–Shannon: 'sturges' (Evidently) or a count. */
  bins?: 'sturges' | number;
}

export interface TestOutcome {
  test: TestName;
  /** The p-value or the distance. */
  score: number;
  /** The test statistic where it differs from the score (KS D, chi-square). */
  statistic?: number;
}

/** Category counts of a categorical side (raw labels or a sketch). */
function countsOf(d: Distribution, what: string): Map<string, number> {
  if (d.form === 'counts') return d.counts;
  if (d.form === 'labels') return valueCounts(d.values);
  if (d.form === 'samples') {
    const m = new Map<string, number>();
    for (let i = 0; i < d.values.length; i++) m.set(String(d.values[i]), (m.get(String(d.values[i])) ?? 0) + 1);
    return m;
  }
  throw new Error(`${what}: needs categories`);
}

function sameBins(a: Distribution & { form: 'histogram' }, b: Distribution, what: string): asserts b is Distribution & { form: 'histogram' } {
  if (b.form !== 'histogram' || b.points.length !== a.points.length) throw new Error(`${what}: both sides must be histograms on the same bins`);
}

function total(c: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < c.length; i++) s += c[i];
  return s;
}

/** Shares of both sides over common bins or categories (before any zero filling). */
function shares(ref: Distribution, cur: Distribution, what: string, opts: TestOptions): [Float64Array, Float64Array] {
  if (ref.form === 'samples' && cur.form === 'samples') {
    const b = binnedShares(ref.values, cur.values, true, opts.bins ?? 'sturges');
    return [b.refShares, b.curShares];
  }
  if (ref.form === 'histogram') {
    sameBins(ref, cur, what);
    const [nr, nc] = [total(ref.counts), total(cur.counts)];
    return [Float64Array.from(ref.counts, (v) => v / nr), Float64Array.from(cur.counts, (v) => v / nc)];
  }
  const a = alignCounts(countsOf(ref, what), countsOf(cur, what));
  const [nr, nc] = [total(a.ref), total(a.cur)];
  return [a.ref.map((v) => v / nr), a.cur.map((v) => v / nc)];
}

/** Runs one named test. @throws Error when the test does not apply to the distributions' form. */
export function runTest(test: TestName, ref: Distribution, cur: Distribution, opts: TestOptions = {}): TestOutcome {
  switch (test) {
    case 'ks': {
      if (ref.form === 'samples' && cur.form === 'samples') {
        const r = ks2samp(ref.values, cur.values);
        return { test, score: r.pvalue, statistic: r.statistic };
      }
      if (ref.form !== 'histogram') throw new Error('ks: needs numeric samples or histograms');
      sameBins(ref, cur, 'ks');
      const r = ks2sampCounts(ref.counts, cur.counts);
      return { test, score: r.pvalue, statistic: r.statistic };
    }
    case 'wasserstein': {
      let w: number;
      let std: number;
      if (ref.form === 'samples' && cur.form === 'samples') {
        w = wasserstein(ref.values, cur.values);
        std = populationStd(ref.values);
      } else if (ref.form === 'histogram') {
        sameBins(ref, cur, 'wasserstein');
        w = wasserstein(ref.points, cur.points, ref.counts, cur.counts);
        std = ref.std ?? populationStd(ref.points, ref.counts);
      } else throw new Error('wasserstein: needs numeric samples or histograms');
      return { test, score: w / Math.max(std, 0.001), statistic: w };
    }
    case 'psi': {
      const [r, c] = shares(ref, cur, 'psi', opts);
      return { test, score: psi(fillZeroShares(r), fillZeroShares(c)) };
    }
    case 'jensenshannon': {
      const [r, c] = shares(ref, cur, 'jensenshannon', opts);
      return { test, score: jensenShannon(r, c, opts.jsBase ?? 2) };
    }
    case 'chisquare': {
      let r: ArrayLike<number>;
      let c: ArrayLike<number>;
      if (ref.form === 'histogram') {
        sameBins(ref, cur, 'chisquare');
        [r, c] = [ref.counts, cur.counts];
      } else {
        const a = alignCounts(countsOf(ref, 'chisquare'), countsOf(cur, 'chisquare'));
        [r, c] = [a.ref, a.cur];
      }
      // Expected = reference counts scaled to the current total, over values seen on either side.
      const k = total(c) / total(r);
      const obs: number[] = [];
      const exp: number[] = [];
      for (let i = 0; i < r.length; i++) if (r[i] > 0 || c[i] > 0) {
        obs.push(c[i]);
        exp.push(r[i] * k);
      }
      const x = chiSquare(obs, exp);
      return { test, score: x.pvalue, statistic: x.statistic };
    }
    case 'z': {
      const a = alignCounts(countsOf(ref, 'z'), countsOf(cur, 'z'));
      if (a.keys.length > 2) throw new Error(`z: needs a binary column, got ${a.keys.length} values`);
      const first = [...a.keys].sort()[0];
      const i0 = a.keys.indexOf(first);
      const [nr, nc] = [total(a.ref), total(a.cur)];
      return { test, score: zProportions(nr - a.ref[i0], nr, nc - a.cur[i0], nc) };
    }
  }
}

/** Rows and distinct non-empty values of the two sides together (for the default choice). */
export function describePair(ref: Distribution, cur: Distribution): { referenceRows: number; distinct: number } {
  if (ref.form === 'samples' || ref.form === 'labels') {
    const set = new Set<number | string>(Array.from(ref.values as ArrayLike<number | string>));
    for (const v of Array.from((cur as { values: ArrayLike<number | string> }).values ?? [])) set.add(v);
    return { referenceRows: ref.values.length, distinct: set.size };
  }
  if (ref.form === 'histogram') {
    sameBins(ref, cur, 'describe');
    let distinct = 0;
    for (let i = 0; i < ref.counts.length; i++) if (ref.counts[i] > 0 || cur.counts[i] > 0) distinct++;
    return { referenceRows: total(ref.counts), distinct };
  }
  const a = alignCounts(countsOf(ref, 'describe'), countsOf(cur, 'describe'));
  let distinct = 0;
  for (let i = 0; i < a.keys.length; i++) if (a.ref[i] > 0 || a.cur[i] > 0) distinct++;
  return { referenceRows: total(a.ref), distinct };
}

/**
 * Evidently's default test: with ≤ 1000 reference rows, KS for numeric columns of more
 * than 5 values, else chi-square (more than 2 values) or the z-test; with more reference
 * rows, Wasserstein (normed) for numeric columns of more than 5 values, else Jensen–Shannon.
 */
export function defaultTest(kind: ColumnKind, referenceRows: number, distinct: number): TestName {
  if (referenceRows <= 1000) {
    if (kind === 'numeric' && distinct > 5) return 'ks';
    return distinct > 2 ? 'chisquare' : 'z';
  }
  return kind === 'numeric' && distinct > 5 ? 'wasserstein' : 'jensenshannon';
}

/** Whether a score crosses its threshold: p-values below, distances at or above. */
export function isDrift(test: TestName, score: number, threshold: number): boolean {
  return TEST_INFO[test].score === 'p_value' ? score < threshold : score >= threshold;
}
