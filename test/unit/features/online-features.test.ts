// Online features on real flights (Jan 1-12, 2001): the training-set builder (an as-of join
// in DuckDB) and the serving store against a brute-force reference of the point-in-time
// rule, against each other bit for bit, and a proof that no row sees a later event.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Warehouse, ingest, readColumns } from '../../../src/data/warehouse';
import { addOnlineColumns } from '../../../src/features/online-sql';
import { OnlineFeatureStore } from '../../../src/features/online-store';
import { parseDuration, type OnlineAggregate, type OnlineFeatures } from '../../../src/features/online';
import { parsePipelineConfig, onlineFeaturesOf } from '../../../src/pipeline/pipeline-config';
import { FLIGHTS, loadFlights, type FlightRows } from './flights-data';

const HOUR = 3_600_000;
const ONLINE: OnlineFeatures = {
  source: 'flights', timestamp: 'date', available_after_ms: 2 * HOUR, max_staleness_ms: HOUR / 4,
  features: [
    { name: 'origin_late_1d', entity: ['origin'], window_ms: 24 * HOUR, aggregate: 'rate', column: 'delay', op: '>', value: 15, default: 0.2 },
    { name: 'origin_delay_6h', entity: ['origin'], window_ms: 6 * HOUR, aggregate: 'mean', column: 'delay', default: 8 },
    { name: 'origin_flights_1d', entity: ['origin'], window_ms: 24 * HOUR, aggregate: 'count', default: 0 },
    { name: 'route_late_3d', entity: ['origin', 'destination'], window_ms: 72 * HOUR, aggregate: 'rate', column: 'delay', op: '>=', value: 30, default: 0.1 },
  ],
};
const NAMES = ONLINE.features.map((f) => f.name);

let events: FlightRows;
/** Rows looked up: a deterministic sample of Jan 4-12, night hours included (staleness). */
let rows: FlightRows;

/** The rule of src/features/online.ts, written out over the raw events. */
function reference(f: OnlineAggregate, t: number, key: string[], ev: FlightRows): number {
  const known = t - ONLINE.available_after_ms;
  let last = -Infinity;
  for (let i = 0; i < ev.rows; i++) if (ev.date[i] <= known && ev.date[i] > last) last = ev.date[i];
  if (!(known - last <= ONLINE.max_staleness_ms)) return f.default;
  let n = 0;
  let sum = 0;
  for (let i = 0; i < ev.rows; i++) {
    const e = ev.date[i];
    if (!(e > t - f.window_ms && e <= known)) continue;
    if (ev.origin[i] !== key[0] || (f.entity.length === 2 && ev.destination[i] !== key[1])) continue;
    n++;
    const d = ev.delay[i];
    sum += f.aggregate === 'mean' ? d : f.aggregate === 'rate' ? (f.op === '>' ? d > f.value! : d >= f.value!) ? 1 : 0 : 0;
  }
  if (n === 0) return f.default;
  return f.aggregate === 'count' ? n : sum / n;
}

/** The builder's columns for `rows`, with events taken from `eventsWhere` of the source file. */
async function built(eventsWhere: string, mutate = ''): Promise<Record<string, Float64Array>> {
  const wh = await Warehouse.open();
  try {
    await ingest(wh, FLIGHTS, 'r', { timestamp: 'date', window: { from: '2001-01-04', to: '2001-01-12' } });
    await wh.conn.run(`CREATE TABLE sample AS SELECT * FROM r ORDER BY hash(date, origin, destination, delay, distance) LIMIT 1500`);
    await wh.conn.run(`CREATE TABLE ev AS SELECT date, origin, destination, ${mutate || 'delay'} AS delay FROM read_parquet('${FLIGHTS}') WHERE ${eventsWhere}`);
    await addOnlineColumns(wh, 'sample', 'ev', ONLINE);
    const kinds = { date: 'epoch_ms', origin: 'string', destination: 'string', delay: 'number', distance: 'number', ...Object.fromEntries(NAMES.map((n) => [n, 'number'])) } as const;
    const { columns } = await readColumns(wh, 'sample', kinds, { timestamp: 'date' });
    return columns as Record<string, Float64Array>;
  } finally {
    wh.close();
  }
}

const JAN = "date >= TIMESTAMP '2001-01-01' AND date < TIMESTAMP '2001-01-13'";
let sql: Record<string, Float64Array>;

before(async () => {
  events = await loadFlights({ from: '2001-01-01', to: '2001-01-13' });
  sql = await built(JAN);
  const c = sql as unknown as Record<string, Float64Array & string[]>;
  rows = { date: c.date, origin: c.origin, destination: c.destination, delay: c.delay, distance: c.distance, rows: c.date.length };
});

test('the as-of join equals the point-in-time rule computed over the raw events', () => {
  assert.strictEqual(rows.rows, 1500);
  let defaults = 0;
  let stale = 0;
  for (let r = 0; r < rows.rows; r++) {
    const key = [rows.origin[r], rows.destination[r]];
    ONLINE.features.forEach((f) => {
      const want = reference(f, rows.date[r], key, events);
      assert.strictEqual(sql[f.name][r], want, `row ${r} (${new Date(rows.date[r]).toISOString()} ${key.join('-')}): ${f.name}`);
      if (want === f.default) defaults++;
    });
    const known = rows.date[r] - ONLINE.available_after_ms;
    if (!events.date.some((e) => e <= known && known - e <= ONLINE.max_staleness_ms)) stale++;
  }
  // The sample exercises both default paths and real values.
  assert.ok(stale > 0, 'some rows fall in the night gap (stale source)');
  assert.ok(defaults < rows.rows * NAMES.length / 2, `${defaults} defaults`);
});

test('no row sees an event that happened after its time minus available_after', async () => {
  // Every event after a cutoff gets an absurd delay; rows whose known-time is before the
  // cutoff must not change, rows after it must (else the check would be vacuous).
  const cutoff = Date.UTC(2001, 0, 8, 12);
  const changed = await built(JAN, `CASE WHEN epoch_ms(date) > ${cutoff} THEN 999 ELSE delay END`);
  let before = 0;
  let after = 0;
  for (let r = 0; r < rows.rows; r++) {
    const same = NAMES.every((n) => changed[n][r] === sql[n][r]);
    if (rows.date[r] - ONLINE.available_after_ms <= cutoff) {
      assert.ok(same, `row ${r} at ${new Date(rows.date[r]).toISOString()} saw an event after ${new Date(cutoff).toISOString()}`);
      before++;
    } else if (!same) after++;
  }
  assert.ok(before > 100 && after > 100, `${before} rows before the cutoff, ${after} changed after it`);
});

test('the serving store, fed as a live server is, answers what the builder computed, bit for bit', () => {
  // A replay in time order: before each row is looked up, the store has received every event
  // up to one hour after the row's time (events it must not use yet), in shuffled blocks of
  // about an hour (events arrive out of order); lookups of rows in time order.
  const ev = (k: number) => ({ date: events.date[k], origin: events.origin[k], destination: events.destination[k], delay: events.delay[k] });
  const store = new OnlineFeatureStore();
  store.register(ONLINE);
  let next = 0;
  let seed = 7;
  let reasons = 0;
  for (let r = 0; r < rows.rows; r++) {
    const upTo = rows.date[r] + HOUR;
    const block: number[] = [];
    while (next < events.rows && events.date[next] <= upTo) block.push(next++);
    for (let i = block.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const j = seed % (i + 1);
      [block[i], block[j]] = [block[j], block[i]];
    }
    if (block.length) assert.deepStrictEqual(store.ingest('flights', block.map(ev)), { accepted: block.length, too_old: 0 });
    const got = store.values(ONLINE, { date: new Date(rows.date[r]).toISOString().slice(0, 19), origin: rows.origin[r], destination: rows.destination[r], distance: rows.distance[r] });
    ONLINE.features.forEach((f, k) => {
      assert.strictEqual(got.values[k], sql[f.name][r], `row ${r} ${f.name}`);
      if (got.reasons[k] !== null) {
        assert.strictEqual(got.values[k], f.default);
        reasons++;
      }
    });
  }
  assert.ok(reasons > 0);
});

test('the store evicts old events and answers a window it no longer holds with the default, as stale', () => {
  const store = new OnlineFeatureStore();
  store.register(ONLINE);
  // The events before Jan 10 (rows before then see no later one, so the builder's values hold).
  const end = Date.UTC(2001, 0, 10);
  const all = Array.from({ length: events.rows }, (_, k) => ({ date: events.date[k], origin: events.origin[k], destination: events.destination[k], delay: events.delay[k] })).filter((e) => e.date < end);
  store.ingest('flights', all);
  // Retention: the longest window (3 d) plus a day before the newest event (Jan 9, 23:5x).
  const [status] = store.status();
  assert.ok(status.evicted_before !== null && status.evicted_before > '2001-01-05T23' && status.evicted_before < '2001-01-06', String(status.evicted_before));
  assert.ok(status.events < events.rows, `${status.events} of ${events.rows} kept`);
  const early = store.values(ONLINE, { date: '2001-01-05T12:00:00', origin: 'ORD', destination: 'LGA' });
  assert.deepStrictEqual(early.reasons, ['stale', 'stale', 'stale', 'stale']);
  assert.deepStrictEqual(early.values, ONLINE.features.map((f) => f.default));
  // Rows late enough still match the builder.
  let checked = 0;
  for (let r = 0; r < rows.rows; r++) {
    if (rows.date[r] - 72 * HOUR < Date.parse(status.evicted_before!) || rows.date[r] >= end) continue;
    const got = store.values(ONLINE, { date: rows.date[r], origin: rows.origin[r], destination: rows.destination[r] });
    ONLINE.features.forEach((f, k) => assert.strictEqual(got.values[k], sql[f.name][r], `row ${r} ${f.name}`));
    checked++;
  }
  assert.ok(checked > 50, `${checked} rows after the cutoff`);
});

test('events are validated all or none, naming the event and the field', () => {
  const store = new OnlineFeatureStore();
  store.register(ONLINE);
  const good = { date: '2001-01-05T10:00:00', origin: 'ORD', destination: 'LGA', delay: 20 };
  assert.throws(() => store.ingest('flights', [good, { ...good, delay: 'late' }]), /events\[1\]: field 'delay': expected a finite number/);
  assert.throws(() => store.ingest('flights', [{ ...good, origin: '' }]), /events\[0\]: field 'origin'/);
  assert.throws(() => store.ingest('flights', [{ ...good, date: '2001-13-01' }]), /events\[0\]: field 'date'/);
  assert.throws(() => store.ingest('flights', [null]), /events\[0\]: expected an object/);
  assert.throws(() => store.ingest('trains', [good]), /no loaded model reads online source 'trains'/);
  assert.strictEqual(store.status()[0].events, 0);
  assert.deepStrictEqual(store.ingest('flights', [good]), { accepted: 1, too_old: 0 });
});

test('the pipeline file declares online features with durations, checked against its inputs', () => {
  assert.strictEqual(parseDuration('90m'), 90 * 60_000);
  assert.strictEqual(parseDuration('7d'), 7 * 24 * HOUR);
  assert.ok(Number.isNaN(parseDuration('7 days')));
  const base = {
    name: 'x', source: { path: 'f.parquet' }, timestamp: 'date', label: { column: 'delay', op: '>', value: 15 },
    windows: { train: { from: '2001-01-01', to: '2001-01-02' }, holdout: { from: '2001-01-02', to: '2001-01-03' }, evaluate: [] },
    features: { timestamp: 'date', numeric: [{ name: 'distance' }], categorical: [{ name: 'origin' }] },
    models: { baseline: { hidden: [], epochs: 1, batch_size: 8, learning_rate: 0.1, seed: 1 }, mlp: { hidden: [], epochs: 1, batch_size: 8, learning_rate: 0.1, seed: 1 } },
    gates: [],
  };
  const withOnline = (f: Record<string, unknown>) => ({ ...base, online_features: { source: 'flights', available_after: '2h', max_staleness: '12h', features: [{ name: 'o', entity: ['origin'], window: '1d', aggregate: 'count', default: 0, ...f }] } });
  const cfg = parsePipelineConfig(withOnline({}), 'p.json');
  assert.deepStrictEqual(onlineFeaturesOf(cfg), { source: 'flights', timestamp: 'date', available_after_ms: 2 * HOUR, max_staleness_ms: 12 * HOUR, features: [{ name: 'o', entity: ['origin'], window_ms: 24 * HOUR, aggregate: 'count', default: 0 }] });
  assert.throws(() => parsePipelineConfig(withOnline({ entity: ['destination'] }), 'p.json'), /entity column 'destination' must be a categorical input/);
  assert.throws(() => parsePipelineConfig(withOnline({ window: '1h' }), 'p.json'), /window 1h must be longer than available_after 2h/);
  assert.throws(() => parsePipelineConfig(withOnline({ name: 'distance' }), 'p.json'), /already a column of the source/);
  assert.throws(() => parsePipelineConfig(withOnline({ aggregate: 'rate', column: 'delay' }), 'p.json'), /'rate' needs 'op' and 'value'/);
  assert.throws(() => parsePipelineConfig(withOnline({ window: '1 day' }), 'p.json'), /window: must match pattern/);
});
