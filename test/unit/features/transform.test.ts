import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FeatureSpec, featureSpecHash, fitFeatures, FitOptions, loadFeatureSpec, serializeFeatureSpec, sha256Hex, sliceColumns, transform, transformSparse, validateRow,
} from '../../../src/features';
import { formatNaive } from '../../../src/features/time';
import { columnsOf, FlightRows, loadFlights } from './flights-data';

const OPTIONS: FitOptions = {
  timestamp: 'date',
  numeric: [{ name: 'distance', transforms: ['identity', 'log1p'] }],
  categorical: [{ name: 'origin', min_count: 20 }, { name: 'destination', min_count: 20 }],
  crosses: [{ input: 'origin', hours_per_slot: 6, buckets: 64 }],
};
const INPUTS = ['date', 'distance', 'origin', 'destination'];

let train: FlightRows;
let later: FlightRows;
let spec: FeatureSpec;

before(async () => {
  // Real flights: fit on Jan 1-3 2001, apply to Feb 1 2001.
  train = await loadFlights({ from: '2001-01-01', to: '2001-01-04' });
  later = await loadFlights({ from: '2001-02-01', to: '2001-02-02' }, 3000);
  spec = fitFeatures(columnsOf(train), { ...OPTIONS, window: { from: '2001-01-01', to: '2001-01-04' } });
});

test('fitFeatures learns training statistics: the training column standardises to mean 0, std 1', () => {
  const { data, width } = transform(spec, columnsOf(train));
  const col = spec.feature_names.indexOf('distance');
  let s = 0;
  let s2 = 0;
  for (let r = 0; r < train.rows; r++) {
    s += data[r * width + col];
    s2 += data[r * width + col] ** 2;
  }
  assert.ok(Math.abs(s / train.rows) < 1e-3, `mean ${s / train.rows}`);
  assert.ok(Math.abs(Math.sqrt(s2 / train.rows) - 1) < 1e-3);
  assert.strictEqual(spec.width, spec.feature_names.length);
  assert.strictEqual(spec.fitted_on.rows, train.rows);
  assert.ok(spec.blocks.some((b) => b.kind === 'categorical' && b.vocabulary.includes('ORD')));
});

test('transform never uses batch statistics: a row gives the same values alone or in any batch', () => {
  const whole = transform(spec, columnsOf(later));
  const tail = transform(spec, sliceColumns(columnsOf(later), INPUTS, 1000, 1010));
  assert.deepStrictEqual(tail.data, whole.data.subarray(1000 * spec.width, 1010 * spec.width));
});

test('transform is deterministic: the same rows give identical bytes', () => {
  const a = transform(spec, columnsOf(later));
  const b = transform(spec, columnsOf(later));
  assert.strictEqual(sha256Hex(new Uint8Array(a.data.buffer)), sha256Hex(new Uint8Array(b.data.buffer)));
});

test('the sparse form (training) holds exactly the dense tensor (serving): same columns, same values', () => {
  const dense = transform(spec, columnsOf(later));
  const sparse = transformSparse(spec, columnsOf(later));
  assert.strictEqual(sparse.perRow, 11); // 2 numeric, 2 cyclic × 2, 2 one-hot times, 2 airports, 1 cross
  assert.strictEqual(sparse.unknownCategories, dense.unknownCategories);
  let nonZero = 0;
  for (let r = 0; r < sparse.rows; r++) {
    const cols = new Set<number>();
    for (let k: number = r * sparse.perRow; k < (r + 1) * sparse.perRow; k++) {
      cols.add(sparse.indices[k]);
      assert.strictEqual(dense.data[r * spec.width + sparse.indices[k]], sparse.values[k]);
      if (sparse.values[k] !== 0) nonZero++;
    }
    assert.strictEqual(cols.size, sparse.perRow, `row ${r}: distinct columns`);
  }
  assert.strictEqual(dense.data.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0), nonZero);
});

test('a serving-time single row (ISO strings via validateRow) equals the batch row (epoch ms)', () => {
  const batch = transform(spec, columnsOf(later));
  for (const r of [0, 17, 1234, later.rows - 1]) {
    const row = { date: formatNaive(later.date[r]), distance: later.distance[r], origin: later.origin[r], destination: later.destination[r] };
    assert.match(row.date, /^2001-02-01T\d{2}:\d{2}:\d{2}$/);
    const one = transform(spec, validateRow(spec, row));
    assert.strictEqual(one.rows, 1);
    assert.deepStrictEqual(one.data, batch.data.subarray(r * spec.width, (r + 1) * spec.width), `row ${r}`);
  }
});

test('time features read naive timestamps as UTC (2001-02-03T14:05:00 is hour 14, a Saturday)', () => {
  const row = { date: '2001-02-03T14:05:00', distance: later.distance[0], origin: later.origin[0], destination: later.destination[0] };
  const { data } = transform(spec, validateRow(spec, row));
  assert.strictEqual(data[spec.feature_names.indexOf('date.hour_of_day=14')], 1);
  assert.strictEqual(data[spec.feature_names.indexOf('date.day_of_week=6')], 1);
  const epoch = transform(spec, validateRow(spec, { ...row, date: Date.UTC(2001, 1, 3, 14, 5) }));
  assert.deepStrictEqual(epoch.data, data);
});

test('unknown airports go to the unknown bucket and are counted', () => {
  const row = { date: '2001-02-03T14:05:00', distance: 500, origin: 'ZZZ', destination: 'ORD' };
  const r = transform(spec, validateRow(spec, row));
  assert.strictEqual(r.unknownCategories, 1);
  assert.strictEqual(r.data[spec.feature_names.indexOf('origin=<unknown>')], 1);
  // Airport codes are normalised (trim, upper case) as at training.
  const lower = transform(spec, validateRow(spec, { ...row, origin: ' ord ' }));
  assert.strictEqual(lower.unknownCategories, 0);
  assert.strictEqual(lower.data[spec.feature_names.indexOf('origin=ORD')], 1);
});

test('BAD CALL - validateRow names the missing, invalid or unknown field', () => {
  const good = { date: '2001-02-03T14:05:00', distance: 1452, origin: 'ORD', destination: 'LAX' };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...good, date: undefined }, /field 'date': missing/],
    [{ ...good, date: '2001-02-30T10:00:00' }, /field 'date': expected an ISO date-time/],
    [{ ...good, date: 'yesterday' }, /field 'date'/],
    [{ ...good, distance: '1452' }, /field 'distance': expected a finite number, got "1452"/],
    [{ ...good, distance: null }, /field 'distance': missing/],
    [{ ...good, origin: '' }, /field 'origin': expected a non-empty string/],
    [{ ...good, destination: 7 }, /field 'destination'/],
    [{ ...good, carrier: 'AA' }, /field 'carrier': unknown/],
  ];
  for (const [row, re] of cases) assert.throws(() => validateRow(spec, row), re);
  assert.throws(() => validateRow(spec, [] as never), /features: expected an object/);
});

test('BAD CALL - transform names the field and row of a bad column value', () => {
  const cols = { date: ['2001-02-03T14:05:00', 'not a date'], distance: [100, 200], origin: ['ORD', 'LAX'], destination: ['LAX', 'ORD'] };
  assert.throws(() => transform(spec, cols), /field 'date' \(row 1\)/);
  assert.throws(() => transform(spec, { ...cols, date: ['2001-02-03', '2001-02-04'], distance: [1, NaN] }), /field 'distance' \(row 1\)/);
  assert.throws(() => transform(spec, { date: [], distance: [], origin: [] } as never), /field 'destination': missing column/);
  assert.throws(() => transform(spec, { ...cols, origin: ['ORD'] }), /field 'origin': 1 values/);
});

test('the spec file round-trips and its hash is the sha256 of the file bytes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-spec-'));
  try {
    const file = path.join(dir, 'feature_spec.json');
    fs.writeFileSync(file, serializeFeatureSpec(spec));
    assert.strictEqual(featureSpecHash(spec), sha256Hex(fs.readFileSync(file)));
    const loaded = loadFeatureSpec(file);
    assert.strictEqual(featureSpecHash(loaded), featureSpecHash(spec));
    assert.deepStrictEqual(transform(loaded, columnsOf(later)).data, transform(spec, columnsOf(later)).data);
    // Refitting on the same rows gives the same spec, byte for byte.
    assert.strictEqual(featureSpecHash(fitFeatures(columnsOf(train), { ...OPTIONS, window: { from: '2001-01-01', to: '2001-01-04' } })), featureSpecHash(spec));
    fs.writeFileSync(file, JSON.stringify({ ...spec, width: spec.width + 1 }));
    assert.throws(() => loadFeatureSpec(file), /width/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
