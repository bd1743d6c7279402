/**
 * The drift statistics against scipy 1.10 on real flights rows: every figure in
 * test/fixtures/monitoring/drift-reference.json was computed once by scipy on exactly the
 * rows read here (see test/fixtures/monitoring/README.md).
 * Tolerances: KS statistic 1e-15 absolute; p-values 1e-11 relative + 1e-15 absolute
 * (z-test: 1e-14 absolute, scipy's 1 − Φ loses the far tail); distances 1e-11 relative.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { runTest } from '../../../src/monitoring/drift-tests';
import { adjustPValues } from '../../../src/monitoring/drift-report';
import { histogramCounts } from '../../../src/monitoring/stats/binning';
import { wasserstein } from '../../../src/monitoring/stats/distances';
import { ks2samp } from '../../../src/monitoring/stats/ks';
import { FlightsDb, loadCases, readSide, REFERENCE_FILE, Side } from './flight-rows';

type Figures = Record<string, any>;
const reference = JSON.parse(fs.readFileSync(REFERENCE_FILE, 'utf8'), (_k, v) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === 'NaN' ? NaN : v));
const { columns: defs, cases } = loadCases();

function close(actual: number, expected: number, rel: number, abs: number, what: string): void {
  if (expected === Infinity || Number.isNaN(expected)) {
    assert.ok(Object.is(actual, expected), `${what}: ${actual} != ${expected}`);
    return;
  }
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected) + abs, `${what}: ${actual} vs scipy ${expected} (Δ ${actual - expected})`);
}

const pClose = (a: number, e: number, what: string) => close(a, e, 1e-11, 1e-15, what);
const dClose = (a: number, e: number, what: string) => close(a, e, 1e-11, 0, what);

describe('drift statistics equal scipy on real flights rows', () => {
  let db: FlightsDb;
  const cache = new Map<string, Promise<Record<string, Float64Array | string[]>>>();
  // Every side reads all five columns once; January is shared by many cases.
  const side = (s: Side) => {
    const key = JSON.stringify(s);
    if (!cache.has(key)) cache.set(key, readSide(db, s, defs, Object.keys(defs)));
    return cache.get(key)!;
  };

  before(async () => {
    db = await FlightsDb.open();
  });
  after(() => db.close());

  it('the reference figures come from scipy 1.10 and cover every case', () => {
    assert.equal(reference.versions.scipy, '1.10.1');
    assert.deepEqual(reference.cases.map((c: Figures) => c.name), cases.map((c) => c.name));
  });

  for (const c of cases) {
    it(c.name, async () => {
      const fig = reference.cases.find((x: Figures) => x.name === c.name);
      const [ref, cur] = await Promise.all([side(c.reference), side(c.current)]);
      const pvals: number[] = [];
      for (const col of c.columns) {
        const f = fig.columns[col];
        const what = `${c.name}/${col}`;
        assert.equal(ref[col].length, f.n_reference, `${what}: reference rows`);
        assert.equal(cur[col].length, f.n_current, `${what}: current rows`);
        if (defs[col].kind === 'numeric') {
          const [r, k] = [ref[col] as Float64Array, cur[col] as Float64Array];
          for (const method of ['auto', 'asymp'] as const) {
            const ks = ks2samp(r, k, method);
            close(ks.statistic, f[`ks_${method}`].statistic, 0, 1e-15, `${what} ks ${method} statistic`);
            pClose(ks.pvalue, f[`ks_${method}`].pvalue, `${what} ks ${method} p-value`);
          }
          pvals.push(ks2samp(r, k).pvalue);
          dClose(wasserstein(r, k), f.wasserstein, `${what} wasserstein`);
          const s = { form: 'samples' as const };
          dClose(runTest('wasserstein', { ...s, values: r }, { ...s, values: k }).score, f.wasserstein_normed, `${what} wasserstein normed`);
          dClose(runTest('jensenshannon', { ...s, values: r }, { ...s, values: k }).score, f.jensenshannon_base2, `${what} JS base 2`);
          dClose(runTest('jensenshannon', { ...s, values: r }, { ...s, values: k }, { jsBase: Math.E }).score, f.jensenshannon_base_e, `${what} JS base e`);
          dClose(runTest('psi', { ...s, values: r }, { ...s, values: k }).score, f.psi, `${what} PSI`);

          // The live path's form: counts on fixed bins, each bin placed at its midpoint.
          const h = f.histogram;
          const [hr, hc] = [histogramCounts(r, h.edges), histogramCounts(k, h.edges)];
          assert.deepEqual(Array.from(hr), h.reference_counts, `${what}: reference bin counts`);
          assert.deepEqual(Array.from(hc), h.current_counts, `${what}: current bin counts`);
          const hist = (counts: Float64Array) => ({ form: 'histogram' as const, points: h.points, counts });
          dClose(runTest('wasserstein', hist(hr), hist(hc)).statistic!, h.wasserstein, `${what} histogram wasserstein`);
          const hks = runTest('ks', hist(hr), hist(hc));
          close(hks.statistic!, h.ks_auto.statistic, 0, 1e-15, `${what} histogram ks statistic`);
          pClose(hks.score, h.ks_auto.pvalue, `${what} histogram ks p-value`);
          const hchi = runTest('chisquare', hist(hr), hist(hc));
          dClose(hchi.statistic!, h.chisquare.statistic, `${what} histogram chi-square statistic`);
          pClose(hchi.score, h.chisquare.pvalue, `${what} histogram chi-square p-value`);
          dClose(runTest('jensenshannon', hist(hr), hist(hc)).score, h.jensenshannon_base2, `${what} histogram JS base 2`);
        } else {
          const l = { form: 'labels' as const };
          const [r, k] = [{ ...l, values: ref[col] as string[] }, { ...l, values: cur[col] as string[] }];
          const chi = runTest('chisquare', r, k);
          close(chi.statistic!, f.chisquare.statistic, 1e-9, 0, `${what} chi-square statistic`);
          pClose(chi.score, f.chisquare.pvalue, `${what} chi-square p-value`);
          dClose(runTest('jensenshannon', r, k).score, f.jensenshannon_base2, `${what} JS base 2`);
          dClose(runTest('jensenshannon', r, k, { jsBase: Math.E }).score, f.jensenshannon_base_e, `${what} JS base e`);
          dClose(runTest('psi', r, k).score, f.psi, `${what} PSI`);
          if (f.z !== undefined) {
            const z = runTest('z', r, k).score;
            close(z, f.z, 1e-9, 1e-14, `${what} z-test`);
            pvals.push(z);
          } else pvals.push(chi.score);
        }
      }
      const corr = fig.correction;
      adjustPValues(pvals, 'bonferroni').forEach((p, i) => close(p, corr.bonferroni[i], 1e-9, 1e-14, `${c.name} Bonferroni ${i}`));
      adjustPValues(pvals, 'bh').forEach((p, i) => close(p, corr.bh[i], 1e-9, 1e-14, `${c.name} BH ${i}`));
    });
  }
});
