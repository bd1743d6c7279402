// Batch scoring through the CLI on real flights: every row lands in the output or the rejects
// file, answers equal /predict's for the same rows (a live server on the same repository)
// and the model run in process on the saved spec's transform; a crashed run resumes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { duckQuery } from '../helpers/duckdb';
import * as ort from 'onnxruntime-node';
import { loadFeatureSpec, transform } from '../../src/features';
import { formatNaive } from '../../src/features/time';
import { RunLog } from '../../src/registry/run-log';
import { scoreFile } from '../../src/scoring/score-file';
import { MODELS, ROOT, postJson, startServer } from '../helpers/server';
import { FLIGHTS } from '../unit/features/flights-data';

const CLI = path.join(ROOT, 'dist/src/cli/main.js');
let tmp: string;
let input: string;
const ROWS = 3000;


before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-score-'));
  input = path.join(tmp, 'flights.csv');
  // 3,000 real flights of 1 February 2001 as CSV (timestamps as text, as a client sends them);
  // every 250th row has its distance removed and every 400th its origin (an empty CSV field reads as missing): /predict refuses those.
  await duckQuery(`COPY (SELECT strftime(date, '%Y-%m-%d %H:%M') AS date, delay,
      CASE WHEN n % 250 = 0 THEN NULL ELSE distance END AS distance,
      CASE WHEN n % 400 = 0 THEN '' ELSE origin END AS origin, destination
    FROM (SELECT *, row_number() OVER (ORDER BY date, origin, destination, distance, delay) AS n FROM read_parquet('${FLIGHTS}')
          WHERE date >= TIMESTAMP '2001-02-01' AND date < TIMESTAMP '2001-02-02')
    WHERE n <= ${ROWS} ORDER BY n) TO '${input}' (HEADER)`);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Scored { date: Date; distance: bigint | null; origin: string; destination: string; prediction: string; probability: number; model_version: number; run_id: number }

test('every row is scored or rejected with its reason, in file order, equal to /predict and to the model in process', async () => {
  const output = path.join(tmp, 'scored.parquet');
  const r = spawnSync(process.execPath, [CLI, 'score', '--model', 'flights-delay/1', '--input', input, '--output', output, '--repository', MODELS, '--registry', path.join(tmp, 'registry.sqlite'), '--chunk-rows', '1000', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  const rejectedExpected = Math.floor(ROWS / 250) + Math.floor(ROWS / 400) - Math.floor(ROWS / 2000);
  assert.equal(res.rows, ROWS);
  assert.equal(res.rejected, rejectedExpected);
  assert.equal(res.scored, ROWS - rejectedExpected);

  const rows = await duckQuery<Scored>(`SELECT * FROM read_parquet('${output}')`);
  const rejects = await duckQuery<{ distance: bigint | null; origin: string; reason: string }>(`SELECT * FROM read_parquet('${res.rejects.path}')`);
  assert.equal(rows.length + rejects.length, ROWS);
  assert.ok(rejects.every((x) => (x.distance === null ? /field 'distance': missing/ : /field 'origin': missing/).test(x.reason)), rejects.slice(0, 3).map((x) => x.reason).join('; '));
  // The CSV's text timestamps are read as DuckDB reads them (TIMESTAMP), in and out.
  const inputRows = await duckQuery<{ date: Date }>(`SELECT date FROM read_csv_auto('${input}')`);
  assert.deepEqual(rows.map((x) => x.date.getTime()), inputRows.map((x) => x.date.getTime()).filter((_, i) => (i + 1) % 250 !== 0 && (i + 1) % 400 !== 0), 'file order, rejects left out');
  assert.ok(rows.every((x) => x.model_version === 1 && x.run_id === res.run));

  // The reference: the saved spec's transform and the model in onnxruntime, in process.
  const dir = path.join(MODELS, 'flights-delay/1');
  const spec = loadFeatureSpec(path.join(dir, 'feature_spec.json'));
  const x = transform(spec, { date: rows.map((q) => q.date.getTime()), distance: rows.map((q) => Number(q.distance)), origin: rows.map((q) => q.origin), destination: rows.map((q) => q.destination) });
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
  const ref = (await session.run({ features: new ort.Tensor('float32', x.data, [rows.length, x.width]) })).probability.data as Float32Array;
  await session.release();
  let worst = 0;
  rows.forEach((q, i) => (worst = Math.max(worst, Math.abs(q.probability - ref[i]))));
  assert.ok(worst <= 1e-6, `max |score − in process| = ${worst}`);

  // /predict on a live server, for a spread of 150 rows: the same probability, bit for bit, and label.
  const srv = await startServer();
  try {
    for (let i = 0; i < rows.length; i += 19) {
      const q = rows[i];
      const p = await postJson(`${srv.url}/predict`, { model: 'flights-delay', model_version: 1, features: { date: formatNaive(q.date.getTime()), distance: Number(q.distance), origin: q.origin, destination: q.destination } });
      assert.equal(p.status, 200);
      assert.ok(p.json.probabilities[1] === q.probability, `row ${i}: /predict ${p.json.probabilities[1]} vs score ${q.probability}`);
      assert.equal(p.json.prediction, q.prediction);
    }
  } finally {
    await srv.server.stop();
  }

  // Lineage: the run with the input's and output's hashes.
  const runs = new RunLog(path.join(tmp, 'registry.sqlite'));
  const run = runs.get(res.run)!;
  runs.close();
  assert.equal(run.kind, 'score');
  assert.equal(run.status, 'scored');
  assert.equal(run.version, 1);
  assert.equal(run.io!.input.sha256, res.input.sha256);
  assert.equal(run.io!.output.rows, res.scored);
  assert.equal(run.io!.rejects.rows, res.rejected);
});

test('EXPECTED FAILURE - a run that dies mid-file resumes after its last committed chunk and gives the same output', async () => {
  const common = { repository: MODELS, model: 'flights-delay', version: 1, input, chunkRows: 500, registry: path.join(tmp, 'registry.sqlite') };
  const whole = await scoreFile({ ...common, output: path.join(tmp, 'whole.parquet'), runId: 1 });
  const output = path.join(tmp, 'resumed.parquet');
  let chunks = 0;
  await assert.rejects(
    scoreFile({ ...common, output, runId: 1, onProgress: () => { if (++chunks === 3) throw new Error('killed after 3 chunks'); } }),
    /killed after 3 chunks/,
  );
  assert.ok(fs.existsSync(`${output}.parts`), 'committed chunks are kept');
  assert.ok(!fs.existsSync(output));
  const resumed = await scoreFile({ ...common, output, runId: 1 });
  assert.equal(resumed.resumedChunks, 3);
  assert.equal(resumed.scored, whole.scored);
  assert.equal(resumed.output.sha256, whole.output.sha256, 'the same bytes as an uninterrupted run');
  assert.ok(!fs.existsSync(`${output}.parts`));
});

test('BAD CALL - a missing input column, an unknown alias or version, a bad model reference and a non-Parquet output are refused with a message', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'score', ...args, '--repository', MODELS, '--registry', path.join(tmp, 'registry.sqlite')], { encoding: 'utf8' });
  const noOrigin = path.join(tmp, 'no-origin.csv');
  fs.writeFileSync(noOrigin, fs.readFileSync(input, 'utf8').split('\n').map((l) => l.split(',').filter((_, j) => j !== 3).join(',')).join('\n'));
  const cases: [string[], RegExp][] = [
    [['--model', 'flights-delay', '--input', noOrigin, '--output', path.join(tmp, 'x.parquet')], /lacks the model's input column\(s\) 'origin'/],
    [['--model', 'flights-delay@nightly', '--input', input, '--output', path.join(tmp, 'x.parquet')], /has no alias 'nightly'/],
    [['--model', 'flights-delay/7', '--input', input, '--output', path.join(tmp, 'x.parquet')], /has no version 7/],
    [['--model', 'flights-delay@', '--input', input, '--output', path.join(tmp, 'x.parquet')], /expected NAME, NAME@ALIAS or NAME\/VERSION/],
    [['--model', 'flights-delay', '--input', input, '--output', path.join(tmp, 'x.csv')], /must be a \.parquet file/],
    [['--model', 'flights-delay', '--input', path.join(tmp, 'nope.csv'), '--output', path.join(tmp, 'x.parquet')], /does not exist/],
  ];
  for (const [args, message] of cases) {
    const r = run(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, message);
  }
});
