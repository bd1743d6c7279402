// Batch scoring as a server job: real flights in a file inside --score-dir, the job's state
// followed to the end, its output and run checked; a cancel stops it; bad requests refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { duckQuery } from '../helpers/duckdb';
import { RunLog } from '../../src/registry/run-log';
import { Running, postJson, startServer } from '../helpers/server';
import { FLIGHTS } from '../unit/features/flights-data';

let dir: string;
let srv: Running;


before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-score-jobs-'));
  await duckQuery(`COPY (SELECT * FROM read_parquet('${FLIGHTS}') WHERE date >= TIMESTAMP '2001-03-01' AND date < TIMESTAMP '2001-03-02' ORDER BY date, origin, destination, distance, delay LIMIT 2000) TO '${path.join(dir, 'march-1.parquet')}' (FORMAT PARQUET)`);
  srv = await startServer({ scoreDir: dir, registryPath: path.join(dir, 'registry.sqlite') });
});
after(async () => {
  await srv.server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const job = async (id: number) => (await (await fetch(`${srv.url}/v2/score/jobs/${id}`)).json()) as { state: string; done: number; total: number | null; run: number | null; result: { rows: number; scored: number; output: { sha256: string } } | null; error: string | null };

test('a job scores a file inside --score-dir; its state, rows and run are reported', async () => {
  const r = await postJson(`${srv.url}/v2/repository/models/flights-delay/score`, { input: 'march-1.parquet', output: 'out/march-1-scored.parquet', version: 1 });
  assert.equal(r.status, 202, JSON.stringify(r.json));
  assert.equal(r.json.state, 'running');
  let j = await job(r.json.id);
  for (let i = 0; i < 300 && j.state === 'running'; i++) {
    await new Promise((res) => setTimeout(res, 100));
    j = await job(r.json.id);
  }
  assert.equal(j.state, 'succeeded', j.error ?? '');
  assert.equal(j.result!.rows, 2000);
  assert.equal(j.result!.scored, 2000);
  assert.equal(j.done, 2000);
  const [{ n }] = await duckQuery<{ n: bigint }>(`SELECT count(*) AS n FROM read_parquet('${path.join(dir, 'out/march-1-scored.parquet')}') WHERE model_version = 1 AND probability BETWEEN 0 AND 1`);
  assert.equal(Number(n), 2000);
  const runs = new RunLog(path.join(dir, 'registry.sqlite'));
  const run = runs.get(j.run!)!;
  runs.close();
  assert.equal(run.kind, 'score');
  assert.equal(run.io!.output.sha256, j.result!.output.sha256);
  const list = (await (await fetch(`${srv.url}/v2/score/jobs`)).json()) as { jobs: { id: number }[] };
  assert.equal(list.jobs[0].id, r.json.id);
});

test('EXPECTED FAILURE - a cancelled job stops and says so', async () => {
  fs.copyFileSync(FLIGHTS, path.join(dir, 'year.parquet'));
  const r = await postJson(`${srv.url}/v2/repository/models/flights-delay/score`, { input: 'year.parquet', output: 'year-scored.parquet' });
  assert.equal(r.status, 202);
  await new Promise((res) => setTimeout(res, 300));
  const c = await postJson(`${srv.url}/v2/score/jobs/${r.json.id}/cancel`, {});
  assert.equal(c.status, 200);
  assert.equal(c.json.state, 'cancelled');
  await new Promise((res) => setTimeout(res, 500));
  assert.equal((await job(r.json.id)).state, 'cancelled');
  assert.ok(!fs.existsSync(path.join(dir, 'year-scored.parquet')));
});

test('BAD CALL - paths outside --score-dir, missing fields, unknown jobs; no --score-dir: 403', async () => {
  const post = (body: unknown) => postJson(`${srv.url}/v2/repository/models/flights-delay/score`, body);
  const outside = await post({ input: 'march-1.parquet', output: '../escaped.parquet' });
  assert.equal(outside.status, 400);
  assert.match(outside.json.error, /'output': '\.\.\/escaped\.parquet' is outside the scoring directory/);
  assert.equal((await post({ output: 'x.parquet' })).status, 400);
  assert.equal((await post({ input: 'march-1.parquet', output: 'x.parquet', version: 0 })).status, 400);
  assert.equal((await post({ input: 'march-1.parquet', output: 'x.parquet', limit: 'all' })).status, 400);
  const missing = await fetch(`${srv.url}/v2/score/jobs/999`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'ENG_ERR_JOB_NOT_FOUND');
  assert.equal((await fetch(`${srv.url}/v2/score/jobs/abc`)).status, 400);
  const plain = await startServer();
  try {
    const off = await postJson(`${plain.url}/v2/repository/models/flights-delay/score`, { input: 'a.parquet', output: 'b.parquet' });
    assert.equal(off.status, 403);
    assert.match(off.json.error, /--score-dir/);
  } finally {
    await plain.server.stop();
  }
});
