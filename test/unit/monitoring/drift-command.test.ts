/**
 * `infera drift`: real days of flights-3m replayed offline against a real model's card
 * (trained by the smoke pipeline), checked against DuckDB's own counts of those days.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerDriftCommand } from '../../../src/cli/drift-command';
import { FLIGHTS_PARQUET, FlightsDb, SOURCE } from './flight-rows';
import { TrainedModel, trainSmokeModel } from './trained-model';

async function drift(args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
  const out: string[] = [];
  registerDriftCommand(program, (t) => out.push(t)).exitOverride();
  await program.parseAsync(['node', 'infera', 'drift', ...args]);
  return out.join('');
}

describe('infera drift', () => {
  let trained: TrainedModel;
  let db: FlightsDb;
  const common = () => ['--model', trained.model, '--repository', trained.repository, '--source', FLIGHTS_PARQUET];

  before(async () => {
    trained = await trainSmokeModel();
    db = await FlightsDb.open();
  });
  after(() => {
    db.close();
    fs.rmSync(trained.tmp, { recursive: true, force: true });
  });

  it('prints one JSON entry per day with the rows and label share DuckDB finds, flagging the stormy day', async () => {
    const out = JSON.parse(await drift([...common(), '--from', '2001-02-16', '--to', '2001-02-21', '--json']));
    assert.deepEqual(out.map((d: any) => d.day), ['2001-02-16', '2001-02-17', '2001-02-18', '2001-02-19', '2001-02-20']);
    const facts = await db.query<{ d: string; n: bigint; late: number }>(`SELECT strftime(date, '%Y-%m-%d') AS d, count(*) AS n, avg((delay > 15)::INT) AS late FROM ${SOURCE} WHERE date >= '2001-02-16' AND date < '2001-02-21' GROUP BY 1 ORDER BY 1`);
    out.forEach((d: any, i: number) => {
      assert.equal(d.result.rows, Number(facts[i].n));
      assert.ok(Math.abs(d.performance.positive_rate - facts[i].late) < 1e-12);
      assert.equal(d.performance.labelled, Number(facts[i].n));
    });
    // Target drift is judged against the training window's late share (the smoke model trains on
    // Jan 1–5, 29.3 % late): flagged exactly where the day's share moved ≥ 5 points (at ~15k
    // flights a day any such move has p far below 0.01).
    const [train] = await db.query<{ late: number }>(`SELECT avg((delay > 15)::INT) AS late FROM ${SOURCE} WHERE date >= '2001-01-01' AND date < '2001-01-06'`);
    out.forEach((d: any, i: number) => {
      assert.ok(Math.abs(d.performance.target_drift.reference_rate - train.late) < 1e-12, 'the reference is the training window');
      assert.equal(d.performance.target_drift.drifted, Math.abs(facts[i].late - train.late) >= 0.05, d.day);
    });
    assert.equal(out[0].performance.target_drift.drifted, true, '40.6 % late on 2001-02-16');
  });

  it('prints a table, by day or by week (weeks test the weekday column)', async () => {
    const table = await drift([...common(), '--from', '2001-02-19', '--to', '2001-02-21', '--rows-per-day', '1500']);
    const lines = table.trim().split('\n');
    assert.match(lines[0], /^flights-delay v1: baseline 'train'/);
    assert.match(lines[1], /^window\s+rows\s+drift\s+share\s+distance\s+date\.hour_of_day\s+date\.day_of_week/);
    // Both days well under the training window's 29 % late: flagged by target drift.
    assert.match(lines[2], /^2001-02-19\s+1500\s+DRIFT\s/);
    assert.match(lines[3], /^2001-02-20\s+1500\s+DRIFT\s/);
    assert.ok(/\sskip\s/.test(lines[2]), 'the weekday column is skipped in a day window');
    const week = JSON.parse(await drift([...common(), '--window', 'week', '--from', '2001-02-12', '--to', '2001-02-19', '--rows-per-day', '1000', '--json']));
    assert.equal(week.length, 1);
    assert.equal(week[0].day, '2001-02-12..2001-02-18');
    assert.equal(week[0].result.rows, 7000);
    assert.ok(week[0].result.drift.columns.some((c: any) => c.column === 'date.day_of_week'));
  });

  it('BAD CALL - rejects bad dates, an empty span and unknown models', async () => {
    await assert.rejects(drift([...common(), '--from', '2001-02-30']), (e: unknown) => e instanceof CommanderError && e.code === 'commander.invalidArgument' && /--from must be a date YYYY-MM-DD, got '2001-02-30'/.test(e.message));
    await assert.rejects(drift([...common(), '--from', '2001-02-20', '--to', '2001-02-10']), /--to \(2001-02-10\) must be after --from \(2001-02-20\)/);
    await assert.rejects(drift(['--model', 'nope', '--repository', trained.repository]), /no version of model 'nope'/);
    // The default repository is the package's models/ (as for serve), where vad has no card.
    await assert.rejects(drift(['--model', 'vad']), /vad\/1 has no card\.json, so it cannot be monitored: drift compares live data with the training data's profile/);
    await assert.rejects(drift([...common(), '--from', '2002-01-01', '--to', '2002-01-03']), /no rows in \[2002-01-01, 2002-01-03\)/);
  });
});
