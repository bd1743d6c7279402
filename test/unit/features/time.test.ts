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

// The regular expression parseTimestamp used before it read character codes: the reference
// the hand-written parser must equal on every string, valid or not.
const REFERENCE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
function referenceParse(text: string): number {
  const m = REFERENCE_RE.exec(text.trim());
  if (!m) return NaN;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return NaN;
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const tz = m[8];
  if (tz && tz !== 'Z') {
    const digits = tz.slice(1).replace(':', '');
    const [offH, offM] = [Number(digits.slice(0, 2)), Number(digits.slice(2, 4))];
    if (offH > 23 || offM > 59) return NaN;
    t -= (tz[0] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
  }
  return t;
}

test('parseTimestamp equals the regular-expression reference on real flight times and every one-character edit of them', async () => {
  const f = await loadFlights({ from: '2001-02-28', to: '2001-03-01' }, 200);
  const seeds = Array.from(f.date, (d) => formatNaive(d));
  seeds.push('2001-02-03 14:05', '2001-02-03', '2001-02-03T14:05:00.289', '2001-02-03T14:05:00.123456789', '2001-02-03T14:05:00Z',
    '2001-02-03T14:05:00+02:00', '2001-02-03T14:05:00-0530', ' 2001-02-03T14:05:00\n', '2000-02-29T23:59:59.999-23:59', '0099-12-31');
  const alphabet = ['0', '1', '2', '3', '5', '9', '-', ':', 'T', ' ', '.', 'Z', '+', 'x', '\u00a0', '٣'];
  let compared = 0, valid = 0;
  const check = (s: string) => {
    const [got, want] = [parseTimestamp(s), referenceParse(s)];
    assert.ok(Object.is(got, want), `${JSON.stringify(s)}: ${got} vs reference ${want}`);
    compared++;
    if (!Number.isNaN(want)) valid++;
  };
  for (const seed of seeds) {
    check(seed);
    for (let i = 0; i <= seed.length; i++) {
      check(seed.slice(0, i) + seed.slice(i + 1)); // deletion
      for (const c of alphabet) {
        check(seed.slice(0, i) + c + seed.slice(i + 1)); // substitution
        check(seed.slice(0, i) + c + seed.slice(i)); // insertion
      }
    }
  }
  // Both kinds are exercised: edits that stay valid (another digit) and ones that break it.
  assert.ok(valid > compared / 10 && valid < compared / 2, `${valid} valid of ${compared}`);
});
