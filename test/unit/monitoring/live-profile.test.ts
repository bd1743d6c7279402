/**
 * Live profiles on real traffic: days of flights-3m run through the registered
 * flights-delay model (offline, ONNX), profiled by the monitoring code, and checked
 * against counts DuckDB computes independently on the same rows.
 */
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { CategoricalColumn, NumericColumn, OTHER } from '../../../src/monitoring/baseline';
import { resolveConfig } from '../../../src/monitoring/config';
import { runTest } from '../../../src/monitoring/drift-tests';
import { RowEncoder } from '../../../src/monitoring/encoder';
import { MonitoringHub } from '../../../src/monitoring/hub';
import { DayRows, OfflineModel, readDays } from '../../../src/monitoring/replay';
import { ProfileSketch } from '../../../src/monitoring/sketch';
import { checkPredictions } from '../../../src/monitoring/prediction-checks';
import { WindowTracker } from '../../../src/monitoring/windows';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PredictionLog } from '../../../src/monitoring/prediction-log';
import { FLIGHTS_PARQUET, FlightsDb, SOURCE } from './flight-rows';
import { TrainedModel, trainSmokeModel } from './trained-model';

const DAY = 86_400_000;

describe('live profiles of real flights traffic', () => {
  let trained: TrainedModel;
  let model: OfflineModel;
  let db: FlightsDb;
  const days: { d: DayRows; p: Float32Array }[] = [];

  before(async () => {
    trained = await trainSmokeModel();
    model = await OfflineModel.load(trained.repository, trained.model);
    db = await FlightsDb.open();
    for await (const d of readDays(FLIGHTS_PARQUET, model, '2001-02-15', '2001-02-18')) days.push({ d, p: await model.predict(d.columns, d.rows) });
  });
  after(async () => {
    db.close();
    await model.close();
    fs.rmSync(trained.tmp, { recursive: true, force: true });
  });

  const column = <T extends NumericColumn | CategoricalColumn>(name: string) => model.baseline.columns.find((c) => c.name === name) as T;

  it('a day sketch holds exactly the counts DuckDB finds on the same rows', async () => {
    const { d, p } = days[1]; // 2001-02-16
    const enc = new RowEncoder(model.baseline);
    const sketch = new ProfileSketch(model.baseline);
    sketch.add(enc.encode({ columns: d.columns, predictions: p }), 0, d.rows, 0, 0);
    const where = "date >= '2001-02-16' AND date < '2001-02-17'";
    assert.equal(sketch.rows, d.rows);
    const [{ n }] = await db.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${SOURCE} WHERE ${where}`);
    assert.equal(sketch.rows, Number(n));

    const j = (name: string) => model.baseline.columns.findIndex((c) => c.name === name);
    const hours = await db.query<{ h: bigint; n: bigint }>(`SELECT hour(date) AS h, count(*) AS n FROM ${SOURCE} WHERE ${where} GROUP BY 1`);
    const wantHours = new Array(24).fill(0);
    for (const r of hours) wantHours[Number(r.h)] = Number(r.n);
    assert.deepEqual(Array.from(sketch.counts[j('date.hour_of_day')]), wantHours);

    const dow = await db.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${SOURCE} WHERE ${where} AND dayofweek(date) = 5`);
    assert.equal(sketch.counts[j('date.day_of_week')][5], Number(dow[0].n), 'Friday');

    // Distance on the card's quantile edges; the end bins are open (clamped), as in training.
    const dist = column<NumericColumn>('distance');
    const e = dist.edges;
    const cases = e.slice(0, -1).map((lo, i) => `count(*) FILTER (WHERE ${i === 0 ? 'true' : `distance >= ${lo}`} AND ${i === e.length - 2 ? 'true' : `distance < ${e[i + 1]}`})`);
    const [row] = await db.query<Record<string, bigint>>(`SELECT ${cases.map((c, i) => `${c} AS b${i}`).join(', ')} FROM ${SOURCE} WHERE ${where}`);
    assert.deepEqual(Array.from(sketch.counts[j('distance')]), cases.map((_, i) => Number(row[`b${i}`])));

    const origin = column<CategoricalColumn>('origin');
    const byOrigin = new Map((await db.query<{ o: string; n: bigint }>(`SELECT origin AS o, count(*) AS n FROM ${SOURCE} WHERE ${where} GROUP BY 1`)).map((r) => [r.o, Number(r.n)]));
    const want = origin.categories.map((c) => (c === OTHER ? 0 : byOrigin.get(c) ?? 0));
    want[want.length - 1] = Number(n) - want.reduce((a, b) => a + b, 0);
    assert.deepEqual(Array.from(sketch.counts[j('origin')]), want);

    // Predictions: exact moments and the baseline's bins.
    let sum = 0;
    for (const v of p) sum += v;
    assert.ok(Math.abs(sketch.predSum / sketch.predictionCount - sum / p.length) < 1e-12);
    assert.equal(sketch.predictionCount, d.rows);
  });

  it('drift of the sketch equals the tests run on the independently counted bins', () => {
    const { d, p } = days[1];
    const sketch = new ProfileSketch(model.baseline);
    sketch.add(new RowEncoder(model.baseline).encode({ columns: d.columns, predictions: p }), 0, d.rows, 0, 0);
    const dist = column<NumericColumn>('distance');
    const j = model.baseline.columns.indexOf(dist);
    const { reference, current } = sketch.distributions(j);
    const direct = runTest('wasserstein', { form: 'histogram', points: dist.points, counts: dist.counts, std: dist.std }, { form: 'histogram', points: dist.points, counts: Array.from(sketch.counts[j]) });
    assert.equal(runTest('wasserstein', reference, current).score, direct.score);
  });

  it('prediction checks: exact mean and std, quantiles to the fine bin, and the failing checks name their limit', () => {
    const { d, p } = days[1];
    const sketch = new ProfileSketch(model.baseline);
    sketch.add(new RowEncoder(model.baseline).encode({ columns: d.columns, predictions: p }), 0, d.rows, 0, 0);
    const r = checkPredictions(sketch, model.baseline.prediction)!;
    const sorted = Float64Array.from(p).sort();
    const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
    const std = Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / sorted.length);
    assert.ok(Math.abs(r.mean - mean) < 1e-12 && Math.abs(r.std - std) < 1e-9);
    for (const q of [0.05, 0.25, 0.5, 0.75, 0.95]) {
      const exact = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      assert.ok(Math.abs(r.quantiles[String(q)] - exact) <= 1 / 1000 + 1e-9, `q${q}: ${r.quantiles[String(q)]} vs ${exact}`);
    }
    assert.equal(r.checks.find((c) => c.check === 'low_variance')!.ok, true);
    assert.equal(r.checks.find((c) => c.check === 'concentration')!.ok, true);
    // One airport at one hour (ORD, 7:00–7:59): a narrow segment of the same day's traffic.
    const idx = Array.from({ length: d.rows }, (_, i) => i).filter((i) => d.columns.origin[i] === 'ORD' && new Date(d.columns.date[i] as number).getUTCHours() === 7);
    const seg = new ProfileSketch(model.baseline);
    const cols = Object.fromEntries(Object.entries(d.columns).map(([k, v]) => [k, idx.map((i) => v[i])]));
    seg.add(new RowEncoder(model.baseline).encode({ columns: cols, predictions: idx.map((i) => p[i]) }), 0, idx.length, 0, 0);
    // The segment's predictions spread less and pile up more than the whole day's: limits
    // half way between the two fail the segment and pass the day.
    const loose = checkPredictions(seg, model.baseline.prediction)!;
    const value = (x: typeof r, k: string) => x.checks.find((c) => c.check === k)!.value;
    assert.ok(value(loose, 'low_variance') < value(r, 'low_variance') && value(loose, 'concentration') > value(r, 'concentration'));
    const limits = { min_std: (value(loose, 'low_variance') + value(r, 'low_variance')) / 2, max_bin_share: (value(loose, 'concentration') + value(r, 'concentration')) / 2 };
    const narrow = checkPredictions(seg, model.baseline.prediction, limits)!;
    const whole = checkPredictions(sketch, model.baseline.prediction, limits)!;
    for (const k of ['low_variance', 'concentration']) {
      assert.equal(narrow.checks.find((c) => c.check === k)!.ok, false, k);
      assert.equal(whole.checks.find((c) => c.check === k)!.ok, true, k);
    }
    assert.equal(narrow.checks.find((c) => c.check === 'concentration')!.limit, limits.max_bin_share);
  });

  it('EXPECTED FAILURE - the mean check is a z-test with an effect floor: the same shifted evening flights fail it by the hundred, not by the handful', () => {
    // Flights leaving 17:00–21:59 are late more often: the model's mean prediction over them
    // sits well above the training window's. A handful of them is not evidence; hundreds are.
    const { d, p } = days[1];
    const evening = Array.from({ length: d.rows }, (_, i) => i).filter((i) => {
      const h = new Date(d.columns.date[i] as number).getUTCHours();
      return h >= 17 && h <= 21;
    });
    const sketchOf = (idx: number[]) => {
      const s = new ProfileSketch(model.baseline);
      const cols = Object.fromEntries(Object.entries(d.columns).map(([k, v]) => [k, idx.map((i) => v[i])]));
      s.add(new RowEncoder(model.baseline).encode({ columns: cols, predictions: idx.map((i) => p[i]) }), 0, idx.length, 0, 0);
      return s;
    };
    const few = checkPredictions(sketchOf(evening.slice(0, 4)), model.baseline.prediction)!.checks.find((c) => c.check === 'mean')!;
    const many = checkPredictions(sketchOf(evening), model.baseline.prediction)!.checks.find((c) => c.check === 'mean')!;
    assert.ok(evening.length >= 300, `${evening.length} evening flights`);
    assert.ok(many.value - many.baseline! >= many.limit, `the evening mean ${many.value} is at least ${many.limit} above ${many.baseline}`);
    assert.equal(many.ok, false, many.detail);
    // The first four: shifted at least as far (checked), but 4 rows cannot make p < 0.01.
    assert.ok(Math.abs(few.value - few.baseline!) >= few.limit, `four evening flights: mean ${few.value}`);
    assert.equal(few.ok, true, few.detail);
    assert.match(few.detail!, /z [0-9.-]+, p [0-9.e-]+ \(fails at p < 0.01 and \|shift\| ≥ 0.05\)/);
  });

  it('tumbling day windows on the event clock close once per day with that day’s rows', () => {
    const spec = { name: 'day', type: 'time' as const, length: DAY, step: DAY, clock: 'event' as const, keep: 10 };
    const closedRows: number[] = [];
    const tracker = new WindowTracker(spec, model.baseline, (_b, s) => closedRows.push(s.rows));
    const enc = new RowEncoder(model.baseline);
    let seq = 0;
    for (const { d, p } of days) {
      const e = enc.encode({ columns: d.columns, predictions: p });
      // Requests of 100 rows each, in time order.
      for (let s = 0; s < d.rows; s += 100) {
        const sub = enc.encode({ columns: Object.fromEntries(Object.entries(d.columns).map(([k, v]) => [k, Array.prototype.slice.call(v, s, s + 100)])), predictions: p.subarray(s, s + 100) });
        tracker.add(sub, 0, seq);
        seq += sub.rows;
      }
      assert.equal(e.rows, d.rows);
    }
    assert.deepEqual(closedRows, [days[0].d.rows, days[1].d.rows]);
    assert.deepEqual(tracker.closed.map((w) => new Date(w.start).toISOString().slice(0, 10)), ['2001-02-15', '2001-02-16']);
    assert.equal(tracker.current()!.sketch.rows, days[2].d.rows);
    // A request from 2001-02-15 after 2001-02-17 began is late for a tumbling day window.
    const late = enc.encode({ columns: Object.fromEntries(Object.entries(days[0].d.columns).map(([k, v]) => [k, Array.prototype.slice.call(v, 0, 10)])), predictions: days[0].p.subarray(0, 10) });
    tracker.add(late, 0, seq);
    assert.equal(tracker.late, 10);
  });

  it('sliding count windows are the sums of their panes', () => {
    const spec = { name: 'rows', type: 'count' as const, length: 8000, step: 2000, clock: 'arrival' as const, keep: 100 };
    const tracker = new WindowTracker(spec, model.baseline, (_b, s) => s.rows);
    const enc = new RowEncoder(model.baseline);
    const all = days.map(({ d, p }) => enc.encode({ columns: d.columns, predictions: p }));
    let seq = 0;
    for (const e of all) {
      tracker.add(e, 0, seq);
      seq += e.rows;
    }
    const total = seq;
    assert.equal(tracker.closed.length, Math.floor((total - 1) / 2000));
    // Recount one window directly from its rows.
    const w = tracker.closed[5];
    assert.deepEqual([w.start, w.end], [(5 - 3) * 2000, 6 * 2000]);
    const direct = new ProfileSketch(model.baseline);
    let offset = 0;
    for (const e of all) {
      const from = Math.max(w.start - offset, 0);
      const to = Math.min(w.end - offset, e.rows);
      if (to > from) direct.add(e, from, to, 0, offset);
      offset += e.rows;
    }
    assert.equal(w.sketch.rows, 8000);
    assert.deepEqual(w.sketch.counts.map((c) => Array.from(c)), direct.counts.map((c) => Array.from(c)));
    assert.deepEqual(Array.from(w.sketch.prediction), Array.from(direct.prediction));
  });

  it('observe() only queues; the hub profiles on setImmediate and drops rows past the queue bound', async () => {
    const registry = new Registry();
    const config = resolveConfig({ queue: { max_rows: 20_000 }, windows: [{ name: 'day', type: 'time', length: '1d', clock: 'event' }] });
    const hub = new MonitoringHub({ repository: trained.repository, config, registry });
    try {
      const { d, p } = days[0];
      const rows = Array.from({ length: d.rows }, (_, i) => Object.fromEntries(model.inputs.map((k) => [k, d.columns[k][i]])));
      hub.observe('flights-delay', model.baseline.version, { rows, predictions: p });
      assert.equal(hub.monitor('flights-delay', model.baseline.version)!.seq, 0, 'nothing profiled synchronously');
      hub.observe('flights-delay', model.baseline.version, { rows, predictions: p }); // over the bound: dropped
      await new Promise((r) => setImmediate(r));
      assert.equal(hub.monitor('flights-delay', model.baseline.version)!.seq, d.rows);
      const text = await registry.metrics();
      assert.match(text, new RegExp(`infera_monitoring_dropped_rows_total\\{model="flights-delay",version="${model.baseline.version}",reason="queue_full"\\} ${d.rows}`));
      assert.match(text, new RegExp(`infera_monitored_rows_total\\{model="flights-delay",version="${model.baseline.version}"\\} ${d.rows}`));
    } finally {
      await hub.close();
    }
  });

  it('sampled predictions reach the log in batches, not one transaction per tick, and always before the log is read', async () => {
    const config = resolveConfig({ windows: [{ name: 'day', type: 'time', length: '1d', clock: 'event' }] });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infera-log-'));
    config.log = { ...config.log, path: path.join(dir, 'predictions.sqlite') };
    const hub = new MonitoringHub({ repository: trained.repository, config });
    const v = model.baseline.version;
    const { d, p } = days[0];
    const observeRow = (i: number) =>
      hub.observe('flights-delay', v, { rows: [Object.fromEntries(model.inputs.map((k) => [k, d.columns[k][i]]))], predictions: [p[i]], ids: [`feb-${i}`] });
    try {
      // The batch's age limit is a timer: held still while the three ticks run, so a slow
      // machine (one CI run took 21 ms here) cannot let it pass between them.
      mock.timers.enable({ apis: ['setTimeout'] });
      try {
        for (let i = 0; i < 3; i++) {
          observeRow(i);
          await new Promise((r) => setImmediate(r));
        }
        assert.equal(hub.monitor('flights-delay', v)!.seq, 3, 'profiled every tick');
        assert.equal(hub.log.count('flights-delay', v).rows, 0, 'the log write waits for a batch');
        hub.flush(); // what feedback and status do before reading the log
      } finally {
        mock.timers.reset();
      }
      assert.equal(hub.log.count('flights-delay', v).rows, 3);
      observeRow(3);
      await new Promise((r) => setImmediate(r));
      assert.equal(hub.log.count('flights-delay', v).rows, 3);
      await new Promise((r) => setTimeout(r, 300)); // the batch age limit (LOG_BATCH_MS, 100 ms) has passed
      assert.equal(hub.log.count('flights-delay', v).rows, 4);
      observeRow(4);
      await new Promise((r) => setImmediate(r));
    } finally {
      await hub.close();
    }
    const reopened = new PredictionLog({ path: config.log.path });
    try {
      assert.equal(reopened.count('flights-delay', v).rows, 5, 'close() wrote the last batch');
    } finally {
      reopened.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
