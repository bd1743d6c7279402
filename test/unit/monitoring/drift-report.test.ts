/**
 * Dataset-level drift on real flights rows: Evidently's default test per column, the
 * multiple-testing corrections, the drifted share, per-column configuration; then the
 * monitoring config's validation and the prediction log (sampling, labels, retention).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, resolveConfig } from '../../../src/monitoring/config';
import { adjustPValues, ColumnInput, driftReport } from '../../../src/monitoring/drift-report';
import { PredictionLog } from '../../../src/monitoring/prediction-log';
import { FlightsDb, loadCases, readSide } from './flight-rows';

const { columns: defs, cases } = loadCases();

describe('drift report on real flights rows', () => {
  let db: FlightsDb;
  const inputs = new Map<string, ColumnInput[]>();

  before(async () => {
    db = await FlightsDb.open();
    for (const name of ['first400_2001-01-15_vs_first400_2001-02-16', 'january_vs_2001-02-16']) {
      const c = cases.find((x) => x.name === name)!;
      const [ref, cur] = await Promise.all([readSide(db, c.reference, defs, c.columns), readSide(db, c.current, defs, c.columns)]);
      inputs.set(name, c.columns.map((col) => {
        const kind = defs[col].kind;
        const side = (v: Float64Array | string[]) => (kind === 'numeric' ? { form: 'samples' as const, values: v as Float64Array } : { form: 'labels' as const, values: v as string[] });
        return { name: col, kind, reference: side(ref[col]), current: side(cur[col]) };
      }));
    }
  });
  after(() => db.close());

  it('picks the tests Evidently picks: KS / chi-square / z up to 1000 reference rows, Wasserstein / Jensen–Shannon beyond', () => {
    const small = driftReport(inputs.get('first400_2001-01-15_vs_first400_2001-02-16')!);
    assert.deepEqual(small.columns.map((c) => [c.column, c.test]), [['distance', 'ks'], ['hour', 'ks'], ['origin', 'chisquare'], ['late', 'z']]);
    const large = driftReport(inputs.get('january_vs_2001-02-16')!);
    assert.deepEqual(large.columns.map((c) => [c.column, c.test]), [['distance', 'wasserstein'], ['hour', 'wasserstein'], ['origin', 'jensenshannon'], ['late', 'jensenshannon']]);
    // 2001-02-16: 40.6% of flights late vs 20.5% in January; the schedule itself did not move.
    assert.deepEqual(large.columns.map((c) => c.drifted), [false, false, false, true]);
    assert.equal(large.share, 0.25);
    assert.equal(large.dataset_drift, false);
    assert.equal(driftReport(inputs.get('january_vs_2001-02-16')!, { drift_share: 0.25 }).dataset_drift, true);
  });

  it('corrects the p-value tests, never the distances', () => {
    const rows = inputs.get('first400_2001-01-15_vs_first400_2001-02-16')!;
    const none = driftReport(rows);
    const bonf = driftReport(rows, { correction: 'bonferroni' });
    const bh = driftReport(rows, { correction: 'bh' });
    const raw = none.columns.map((c) => c.raw_p_value!);
    assert.deepEqual(bonf.columns.map((c) => c.score), adjustPValues(raw, 'bonferroni'));
    assert.deepEqual(bh.columns.map((c) => c.score), adjustPValues(raw, 'bh'));
    assert.deepEqual(bonf.columns.map((c) => c.raw_p_value), raw);
    // distance (p 0.58) stays undrifted; hour, origin, late (p ≤ 1.6e-12) drift under both.
    assert.deepEqual(bonf.columns.map((c) => c.drifted), [false, true, true, true]);
    const large = driftReport(inputs.get('january_vs_2001-02-16')!, { correction: 'bonferroni' });
    assert.ok(large.columns.every((c) => c.raw_p_value === undefined));
  });

  it('takes per-kind and per-column tests and thresholds, and leaves columns out', () => {
    const rows = inputs.get('january_vs_2001-02-16')!;
    const r = driftReport(rows, { numeric_test: 'psi', columns: { origin: { test: 'chisquare' }, late: { enabled: false }, hour: { threshold: 0.005 } } });
    assert.deepEqual(r.columns.map((c) => [c.column, c.test, c.threshold]), [['distance', 'psi', 0.1], ['hour', 'psi', 0.005], ['origin', 'chisquare', 0.05]]);
    assert.equal(r.columns[1].drifted, true, 'hour PSI 0.0106 ≥ 0.005');
  });

  it('BAD CALL - a test that does not fit the column is reported on the column, not thrown', () => {
    const r = driftReport(inputs.get('january_vs_2001-02-16')!, { columns: { origin: { test: 'z' }, distance: { test: 'ks' } } });
    const origin = r.columns.find((c) => c.column === 'origin')!;
    assert.match(origin.error!, /^z: needs a binary column, got 2\d\d values$/);
    assert.equal(origin.drifted, false);
    assert.equal(r.tested, 3);
  });
});

describe('monitoring config', () => {
  it('resolves durations, windows and rules over the defaults', () => {
    const c = resolveConfig({ windows: [{ name: 'day', type: 'time', length: '1d', clock: 'event' }, { name: 'last-10k', type: 'count', length: 10000, step: 2500 }], log: { sample_rate: 0.5, retention: '2d' }, alerts: { cooldown_ms: '30m' } });
    assert.deepEqual(c.windows.map((w) => [w.name, w.length, w.step, w.clock]), [['day', 86_400_000, 86_400_000, 'event'], ['last-10k', 10000, 2500, 'arrival']]);
    assert.equal(c.log.sampleRate, 0.5);
    assert.equal(c.log.retentionMs, 2 * 86_400_000);
    assert.equal(c.alerts.cooldown_ms, 1_800_000);
    assert.equal(parseDuration('1.5h', 'x'), 5_400_000);
  });

  it('BAD CALL - names the bad field', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ windowz: [] }, /unknown field 'windowz'/],
      [{ windows: [{ name: 'w', type: 'time', length: '1d', step: '7h' }] }, /windows\.0: step must divide length/],
      [{ windows: [{ name: 'w', type: 'count', length: 100, clock: 'event' }] }, /windows\.0: count windows have no clock/],
      [{ windows: [{ name: 'a b', type: 'count', length: 100 }] }, /windows\.0: name 'a b'/],
      [{ windows: [{ name: 'w', type: 'time', length: 'soon' }] }, /windows\.0\.length: expected a duration/],
      [{ drift: { numeric_test: 'ttest' } }, /unknown test 'ttest'/],
      [{ drift: { correction: 'holm' } }, /drift\.correction must be none, bonferroni or bh/],
      [{ log: { sample_rate: 2 } }, /log\.sample_rate must be in \[0, 1\]/],
      [{ log: { sampling: 1 } }, /log\.sampling is not a setting/],
      [{ alerts: { rules: [{ type: 'auc_drop', max_drop: 0.05, window: 'month' }] } }, /alerts\.rules\.0\.window: no window named 'month'/],
      [{ alerts: { rules: [{ type: 'page_me' }] } }, /alerts\.rules\.0\.type must be one of/],
      [{ alerts: { webhook: { url: 'file:///etc/passwd' } } }, /alerts\.webhook\.url must be an http\(s\) URL/],
    ];
    for (const [cfg, re] of bad) assert.throws(() => resolveConfig(cfg, 'm.json'), (e: unknown) => e instanceof Error && e.message.startsWith('m.json: ') && re.test(e.message), JSON.stringify(cfg));
  });
});

describe('prediction log', () => {
  const ids = Array.from({ length: 17002 }, (_, r) => `2001-02-16#${r}`);

  it('samples by id: the same ids every time, close to the rate', () => {
    const log = new PredictionLog({ sampleRate: 0.25 });
    const kept = ids.filter((id) => log.sampled(id));
    assert.deepEqual(ids.filter((id) => log.sampled(id)), kept);
    assert.ok(Math.abs(kept.length / ids.length - 0.25) < 0.02, `${kept.length} of ${ids.length}`);
    log.close();
  });

  it('joins labels by id, reports unknown ids, and applies retention by age and by rows', () => {
    const log = new PredictionLog({ retentionMs: 60_000, maxRows: 100 });
    const rows = ids.slice(0, 150).map((id, seq) => ({ model: 'flights-delay', version: 1, id, seq, arrivalMs: 1_000_000 + seq * 1000, eventMs: null, inputs: null, output: 0.2 }));
    log.insertMany(rows);
    const r = log.setLabels('flights-delay', [{ id: ids[0], label: 1 }, { id: 'never', label: 0 }]);
    assert.equal(r.matched, 1);
    assert.deepEqual(r.unknown, ['never']);
    assert.deepEqual(r.ranges.get(1)!.seq, [0, 0]);
    assert.equal(log.joined('flights-delay', 1, 'seq', 0, 150).labels.length, 1);
    // Now = arrival of row 149 + 10 s: rows older than 60 s go first, then the oldest beyond 100.
    const deleted = log.retain(1_000_000 + 159_000);
    assert.equal(deleted, 99);
    assert.deepEqual(log.count('flights-delay'), { rows: 51, labelled: 0 });
    log.close();
  });

  it('keeps the newest maxRows rows, deleting at most maxDelete per call', () => {
    const log = new PredictionLog({ maxRows: 100 });
    const rows = ids.slice(0, 150).map((id, seq) => ({ model: 'flights-delay', version: 1, id, seq, arrivalMs: Date.now(), eventMs: null, inputs: null, output: 0.2 }));
    log.insertMany(rows);
    assert.deepEqual([log.retain(Date.now(), 30), log.retain(Date.now(), 30), log.retain(Date.now(), 30)], [30, 20, 0]);
    assert.deepEqual(log.count('flights-delay'), { rows: 100, labelled: 0 });
    // The newest 100 were kept: the oldest 50 ids are unknown to a label, the rest match.
    assert.deepEqual(log.setLabels('flights-delay', ids.slice(49, 51).map((id) => ({ id, label: 1 }))).unknown, [ids[49]]);
    // A replaced row moves to the newest end; the cut still keeps at most maxRows.
    log.insertMany([{ ...rows[60], output: 0.3 }, ...ids.slice(150, 160).map((id, k) => ({ ...rows[0], id, seq: 150 + k }))]);
    log.retain(Date.now());
    assert.ok(log.count('flights-delay').rows <= 100, `${log.count('flights-delay').rows} rows`);
    log.close();
  });
});
