// Experiment tracking through the CLI: real `infera train` runs of the smoke pipeline (real
// flights) recorded in the registry file, read back with `infera runs`, checked against the
// model cards the runs wrote (the independent record of what each run did).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/server';

const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const SMOKE = path.join(ROOT, 'pipelines/flights-delay-smoke.json');
let tmp: string;
let repo: string;

const infera = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT });
const json = (...args: string[]) => {
  const r = infera(...args, '--repository', repo, '--json');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
};

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-runs-'));
  repo = path.join(tmp, 'models');
  fs.mkdirSync(repo);
  const train = (...extra: string[]) => infera('train', SMOKE, '--repository', repo, '--rows-limit', '20000', ...extra);
  assert.equal(train('--epochs', '2').status, 0);
  assert.equal(train('--epochs', '3', '--seed', '11').status, 0);
  assert.equal(train('--epochs', '2', '--dry-run').status, 0);
  // A run whose quality gate cannot pass: recorded as failed at the gates, with its metrics.
  const strict = JSON.parse(fs.readFileSync(SMOKE, 'utf8'));
  strict.source.path = path.resolve(path.dirname(SMOKE), strict.source.path);
  strict.gates = [{ name: 'auc-floor', metric: 'auc', min: 0.99, windows: 'all' }];
  fs.writeFileSync(path.join(tmp, 'strict.json'), JSON.stringify(strict));
  const failed = infera('train', path.join(tmp, 'strict.json'), '--repository', repo, '--rows-limit', '20000', '--epochs', '2');
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /run 4 recorded as failed/);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('every train run is recorded, newest first, failed and dry runs included', () => {
  const { runs } = json('runs', 'list');
  assert.deepEqual(runs.map((r: { id: number }) => r.id), [4, 3, 2, 1]);
  assert.deepEqual(runs.map((r: { status: string }) => r.status), ['failed', 'dry_run', 'registered', 'registered']);
  assert.deepEqual(runs.map((r: { version: number | null }) => r.version), [null, null, 2, 1]);
  assert.equal(runs[0].failed_stage, 'gates');
  assert.match(runs[0].error, /auc-floor/);
  assert.ok(runs[0].metrics.mlp.holdout.auc > 0.5 && runs[0].metrics.mlp.holdout.auc < 0.99, 'the failed run keeps what it measured');
  assert.equal(runs[1].options.dry_run, true);
  assert.ok(runs.every((r: { finished_at: number; started_at: number }) => r.finished_at >= r.started_at));
});

test('a run holds what its model card says: data hash, parameters, metrics per window, learning curves, artifact', () => {
  for (const id of [1, 2]) {
    const run = json('runs', 'show', String(id));
    const card = JSON.parse(fs.readFileSync(path.join(repo, 'flights-delay', String(id), 'card.json'), 'utf8'));
    assert.equal(run.version, id);
    assert.equal(run.artifact, path.join(repo, 'flights-delay', String(id)));
    assert.equal(run.data_sha256, card.source.sha256);
    assert.deepEqual(run.params.mlp, card.training.mlp.params);
    assert.deepEqual(run.params.baseline, card.training.baseline.params);
    assert.deepEqual(run.metrics.mlp, card.metrics);
    assert.deepEqual(run.metrics.baseline, card.baseline_metrics);
    assert.deepEqual(run.curves.mlp, card.training.mlp.history.epochs.map((e: { loss: number }) => e.loss));
    assert.equal(run.curves.mlp.length, id === 1 ? 2 : 3);
    assert.deepEqual(run.code, card.code);
  }
});

test('compare: one column per run, the rows that differ marked; --html adds the learning curves', () => {
  const html = path.join(tmp, 'compare.html');
  const r = infera('runs', 'compare', '1', '2', '--repository', repo, '--html', html);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /run 1\s+run 2/);
  assert.match(lines.find((l) => /mlp\.epochs/.test(l))!, /^\* mlp\.epochs\s+2\s+3$/);
  assert.match(lines.find((l) => /data sha256/.test(l))!, /^ {2}data sha256/, 'the same data: not marked');
  const page = fs.readFileSync(html, 'utf8');
  assert.equal((page.match(/<svg data-chart="curve-/g) ?? []).length, 2, 'one chart per model (mlp, baseline)');
  assert.equal((page.match(/data-series="run 2"/g) ?? []).length > 3, true);
  assert.match(page, /<tr class="differs"><th>mlp\.epochs<\/th><td>2<\/td><td>3<\/td><\/tr>/);
});

test('BAD CALL - unknown runs and a one-run compare are refused with a message', () => {
  const missing = infera('runs', 'show', '99', '--repository', repo);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no run 99/);
  const one = infera('runs', 'compare', '1', '--repository', repo);
  assert.notEqual(one.status, 0);
  assert.match(one.stderr, /two or more/);
  const bad = infera('runs', 'show', 'x1', '--repository', repo);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /positive integer/);
  const none = infera('runs', 'list', '--repository', path.join(tmp, 'empty'));
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no registry/);
});
