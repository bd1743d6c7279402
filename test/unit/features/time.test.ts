import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dayOfWeek, minuteOfDay, parseTimestamp, toEpochMs } from '../../../src/features';
import { formatNaive } from '../../../src/features/time';
import { loadFlights } from './flights-data';

test('naive ISO timestamps are UTC; explicit offsets are honoured', () => {
  assert.strictEqual(parseTimestamp('2001-02-03T14:05:00'), Date.UTC(2001, 1, 3, 14, 5));
  assert.strictEqual(parseTimestamp('2001-02-03 14:05'), Date.UTC(2001, 1, 3, 14, 5));
  assert.strictEqual(parseTimestamp('2001-02-03'), Date.UTC(2001, 1, 3));
  assert.strictEqual(parseTimestamp('2001-02-03T14:05:00Z'), Date.UTC(2001, 1, 3, 14, 5));
  assert.strictEqual(parseTimestamp('2001-02-03T14:05:00.250'), Date.UTC(2001, 1, 3, 14, 5, 0, 250));
  assert.strictEqual(parseTimestamp('2001-02-03T14:05:00+02:00'), Date.UTC(2001, 1, 3, 12, 5));
  assert.strictEqual(parseTimestamp('2001-02-03T14:05:00-0530'), Date.UTC(2001, 1, 3, 19, 35));
  assert.strictEqual(toEpochMs(981209100000), 981209100000);
});

test('BAD CALL - invalid timestamps are NaN, never a shifted date', () => {
  for (const bad of ['2001-02-29T10:00:00', '2001-13-01', '2001-02-03T24:00:00', '2001-02-03T10:60', '03/02/2001', '', '2001-02-03T10:00:00+25:00']) {
    assert.ok(Number.isNaN(parseTimestamp(bad)), bad);
  }
  for (const bad of [null, undefined, {}, Infinity, NaN, true]) assert.ok(Number.isNaN(toEpochMs(bad)), String(bad));
});

test('hour and weekday of real flights agree with DuckDB, whatever the process time zone', async () => {
  // flights-3m starts on Monday 2001-01-01 00:01; DuckDB's epoch_ms reads the naive value as UTC.
  const tz = process.env.TZ;
  process.env.TZ = 'America/Los_Angeles'; // Node re-reads TZ: local-time parsing would shift by 8 h
  assert.strictEqual(new Date(2001, 0, 1).getTimezoneOffset(), 480);
  assert.strictEqual(parseTimestamp('2001-01-01T00:01:00'), Date.UTC(2001, 0, 1, 0, 1));
  if (tz === undefined) delete process.env.TZ;
  else process.env.TZ = tz;
  const f = await loadFlights({ from: '2001-01-01', to: '2001-01-01T00:05' });
  assert.ok(f.rows > 0);
  assert.strictEqual(formatNaive(f.date[0]), '2001-01-01T00:01:00');
  assert.strictEqual(dayOfWeek(f.date[0]), 1);
  assert.strictEqual(minuteOfDay(f.date[0]), 1);
  assert.strictEqual(dayOfWeek(Date.UTC(2001, 1, 3)), 6);
  assert.strictEqual(dayOfWeek(Date.UTC(1969, 11, 31)), 3);
  assert.strictEqual(minuteOfDay(Date.UTC(1969, 11, 31, 23, 59)), 1439);
});
