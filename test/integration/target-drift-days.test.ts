// Day-level target drift on real replays (issue: a test of the difference of rates with an
// effect-size floor): every day of February–June 2001, 2,000 real flights a day with their
// real labels, judged as a closed day window is judged live, against the committed model's
// training-window late share. The days are sorted by their full-day late share (DuckDB, every
// flight of the day): moved ≥ 8 points must be flagged (≥ 95 %), within 2 points must not
// (≤ 5 %).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/monitoring/config';
import { performanceOptions, windowPerformance } from '../../src/monitoring/performance';
import { OfflineModel, readDays } from '../../src/monitoring/replay';
import { MODELS } from '../helpers/server';
import { FLIGHTS_PARQUET, FlightsDb, SOURCE } from '../unit/monitoring/flight-rows';

test('target drift flags the days whose late share moved ≥ 8 points and not the calm ones (Feb–Jun 2001, 2,000 flights a day)', async () => {
  const model = await OfflineModel.load(MODELS, 'flights-delay', 1);
  const db = await FlightsDb.open();
  try {
    const reference = model.baseline.label!;
    assert.match(reference.source, /profile \(train\)/, 'the reference is the training window');
    const [jan] = await db.query<{ late: number; n: bigint }>(`SELECT avg((delay > 15)::INT) AS late, count(*) AS n FROM ${SOURCE} WHERE date >= '2001-01-01' AND date < '2001-01-25'`);
    assert.ok(Math.abs(reference.positiveRate - jan.late) < 1e-12 && reference.rows === Number(jan.n), 'the card holds the training window\'s late share');
    const full = new Map((await db.query<{ d: string; late: number }>(`SELECT strftime(date, '%Y-%m-%d') AS d, avg((delay > 15)::INT) AS late FROM ${SOURCE} WHERE date >= '2001-02-01' AND date < '2001-07-01' GROUP BY 1`)).map((r) => [r.d, r.late]));
    const moved: string[] = [];
    const calm: string[] = [];
    const flagged = new Set<string>();
    for await (const day of readDays(FLIGHTS_PARQUET, model, '2001-02-01', '2001-07-01', 2000)) {
      const perf = windowPerformance(day.labels, await model.predict(day.columns, day.rows), performanceOptions(DEFAULT_CONFIG.performance, model.baseline));
      const shift = Math.abs(full.get(day.day)! - reference.positiveRate);
      if (shift >= 0.08) moved.push(day.day);
      else if (shift <= 0.02) calm.push(day.day);
      if (perf.target_drift!.drifted) flagged.add(day.day);
    }
    const hit = moved.filter((d) => flagged.has(d)).length;
    const falseAlarms = calm.filter((d) => flagged.has(d)).length;
    console.log(`target drift: ${hit} of ${moved.length} days moved ≥ 8 points flagged; ${falseAlarms} of ${calm.length} calm days (≤ 2 points) flagged; reference ${(100 * reference.positiveRate).toFixed(2)} %`);
    assert.ok(moved.length >= 20 && calm.length >= 20, `enough days of each kind (${moved.length}, ${calm.length})`);
    assert.ok(hit >= 0.95 * moved.length, `${hit} of ${moved.length} moved days flagged`);
    assert.ok(falseAlarms <= 0.05 * calm.length, `${falseAlarms} of ${calm.length} calm days flagged`);
  } finally {
    db.close();
    await model.close();
  }
});
