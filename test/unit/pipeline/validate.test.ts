import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ingest, Warehouse } from '../../../src/data/warehouse';
import { assertValid, formatReport, ValidationError, ValidationReport, validateTable } from '../../../src/pipeline/validate';
import { BIRDSTRIKES, FLIGHTS, MOVIES } from '../features/flights-data';

let wh: Warehouse;
before(async () => {
  wh = await Warehouse.open();
});
after(() => wh.close());

const find = (r: ValidationReport, check: string, column?: string) => r.checks.find((c) => c.check === check && c.column === column);

test('EXPECTED FAILURE - movies.json: real missing values fail the 10% threshold', async () => {
  await ingest(wh, MOVIES, 'movies');
  const r = await validateTable(wh, 'movies');
  assert.strictEqual(r.rows, 3201);
  assert.strictEqual(r.ok, false);
  // 564 of 3201 movies have US DVD sales: 82.4% missing.
  const dvd = find(r, 'missing', 'US DVD Sales')!;
  assert.strictEqual(dvd.severity, 'fail');
  assert.ok(Math.abs(dvd.value! - (3201 - 564) / 3201) < 1e-12);
  assert.strictEqual(find(r, 'missing', 'MPAA Rating')!.severity, 'fail');
  assert.strictEqual(find(r, 'missing', 'Title')!.severity, 'ok');
  const err = (() => {
    try {
      assertValid(r);
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof ValidationError);
  assert.match(err.message, /data validation failed/);
  assert.match(err.message, /FAIL {2}missing +'US DVD Sales': 82\.38% missing \(2637 of 3201; max 10\.00%\)/);
  // A looser threshold turns the same table green on that column.
  const loose = await validateTable(wh, 'movies', { max_missing_ratio: 0.9 });
  assert.strictEqual(find(loose, 'missing', 'US DVD Sales')!.severity, 'ok');
});

test('EXPECTED FAILURE - birdstrikes.csv: missing speeds fail, rare categories and speed outliers warn', async () => {
  await ingest(wh, BIRDSTRIKES, 'birds');
  const r = await validateTable(wh, 'birds');
  assert.strictEqual(r.rows, 10000);
  assert.strictEqual(r.ok, false);
  // 7164 of 10000 strikes report an airspeed.
  assert.strictEqual(find(r, 'missing', 'Speed IAS in knots')!.severity, 'fail');
  assert.ok(Math.abs(find(r, 'missing', 'Speed IAS in knots')!.value! - 0.2836) < 1e-12);
  // Damage codes 'B' (1 row) and 'C' (14 rows) beside None/Minor/Medium/Substantial.
  const rare = find(r, 'rare_categories', 'Effect Amount of damage')!;
  assert.strictEqual(rare.severity, 'warn');
  assert.match(rare.message, /'B' ×1/);
  // Airspeeds: 8.5% outside the IQR fences [70, 230] knots (warn above 5%).
  const speed = find(r, 'outliers', 'Speed IAS in knots')!;
  assert.strictEqual(speed.severity, 'warn');
  assert.match(speed.message, /^8\.50% outside the IQR fences \[70, 230\]/);
  // Costs are 0 for most strikes: the fences collapse to [0, 0] and 2.09% of rows fall outside.
  assert.strictEqual(find(r, 'outliers', 'Cost Total $')!.severity, 'ok');
  assert.ok(Math.abs(find(r, 'outliers', 'Cost Total $')!.value! - 0.0209) < 1e-12);
  const text = formatReport(r);
  assert.match(text, /^table 'birds': 10000 rows, 14 columns — \d+ failed, \d+ warnings, \d+ passed/);
  assert.ok(text.indexOf('FAIL') < text.indexOf('WARN'), 'failures are listed first');
});

test('flights January: passes, with a real warning on the long tail of delays', async () => {
  await ingest(wh, FLIGHTS, 'jan', { timestamp: 'date', window: { from: '2001-01-01', to: '2001-02-01' } });
  const r = await validateTable(wh, 'jan', {
    schema: { date: 'TIMESTAMP', delay: 'BIGINT', distance: 'BIGINT', origin: 'VARCHAR', destination: 'VARCHAR' },
    min_rows: 1000,
  });
  assert.strictEqual(r.ok, true, formatReport(r));
  assert.strictEqual(r.rows, 508239);
  assert.strictEqual(find(r, 'outliers', 'delay')!.severity, 'warn');
  assert.strictEqual(find(r, 'schema')!.severity, 'ok');
  for (const c of ['date', 'delay', 'distance', 'origin', 'destination']) assert.strictEqual(find(r, 'missing', c)!.value, 0);
  assertValid(r);
});

test('EXPECTED FAILURE - a schema mismatch and too few rows fail with the column named', async () => {
  await ingest(wh, FLIGHTS, 'day', { timestamp: 'date', window: { from: '2001-01-01', to: '2001-01-02' } });
  const r = await validateTable(wh, 'day', { schema: { date: 'TIMESTAMP', distance: 'DOUBLE', carrier: 'VARCHAR' }, min_rows: 1_000_000 });
  assert.strictEqual(r.ok, false);
  assert.match(find(r, 'schema')!.message, /column 'distance' is BIGINT, expected DOUBLE; column 'carrier' is missing/);
  assert.strictEqual(find(r, 'rows')!.severity, 'fail');
});
