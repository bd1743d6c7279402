import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseModelConfig } from '../../../src/config/model-config';
import { FeatureSpec, loadFeatureSpec, sha256Hex, transform } from '../../../src/features';
import { Warehouse } from '../../../src/data/warehouse';
import { registerModel } from '../../../src/pipeline/register';
import { PipelineError, runPipeline } from '../../../src/pipeline/run-pipeline';
import { FLIGHTS, ROOT } from '../features/flights-data';

const SMOKE = path.join(ROOT, 'pipelines/flights-delay-smoke.json');
let tmp: string;
let repo: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-pipeline-'));
  repo = path.join(tmp, 'models');
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A variant of the smoke pipeline in the temp dir (source made absolute). */
function variant(name: string, edit: (cfg: Record<string, any>) => void): string {
  const cfg = JSON.parse(fs.readFileSync(SMOKE, 'utf8'));
  cfg.source.path = FLIGHTS;
  edit(cfg);
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(cfg));
  return file;
}

const listing = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

async function duckCount(sql: string): Promise<number> {
  const wh = await Warehouse.open();
  try {
    const [r] = await wh.query<{ n: bigint }>(sql);
    return Number(r.n);
  } finally {
    wh.close();
  }
}

test('the smoke pipeline registers version 1 atomically, with lineage that checks out', async () => {
  const lines: string[] = [];
  const t0 = Date.now();
  const res = await runPipeline({ pipelineFile: SMOKE, repository: repo, log: (l) => lines.push(l), progress: false });
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds < 60, `smoke run took ${seconds} s`);
  assert.strictEqual(res.registered, true);
  assert.strictEqual(res.version, 1);
  const modelDir = path.join(repo, 'flights-delay');
  // No temp folder or temp file left behind: exactly the version and model.json.
  assert.deepStrictEqual(listing(modelDir), ['1', 'model.json']);
  assert.deepStrictEqual(listing(path.join(modelDir, '1')), ['card.json', 'feature_spec.json', 'model.onnx']);

  const card = JSON.parse(fs.readFileSync(path.join(modelDir, '1', 'card.json'), 'utf8'));
  const specBytes = fs.readFileSync(path.join(modelDir, '1', 'feature_spec.json'));
  const spec = JSON.parse(specBytes.toString()) as FeatureSpec;
  // Lineage: the content hash is the sha256 of the parquet; row counts equal DuckDB COUNTs.
  assert.strictEqual(card.source.sha256, crypto.createHash('sha256').update(fs.readFileSync(FLIGHTS)).digest('hex'));
  assert.strictEqual(card.source.bytes, fs.statSync(FLIGHTS).size);
  const src = `read_parquet('${FLIGHTS}')`;
  assert.strictEqual(card.source.total_rows, await duckCount(`SELECT count(*) AS n FROM ${src}`));
  assert.strictEqual(card.rows.train, await duckCount(`SELECT count(*) AS n FROM ${src} WHERE date >= '2001-01-01' AND date < '2001-01-06'`));
  assert.strictEqual(card.rows.holdout, await duckCount(`SELECT count(*) AS n FROM ${src} WHERE date >= '2001-01-06' AND date < '2001-01-08'`));
  assert.strictEqual(card.rows['2001-02-01..03'], await duckCount(`SELECT count(*) AS n FROM ${src} WHERE date >= '2001-02-01' AND date < '2001-02-04'`));
  assert.strictEqual(card.rows.ingested, card.rows.train + card.rows.holdout + card.rows['2001-02-01..03'] + await duckCount(`SELECT count(*) AS n FROM ${src} WHERE date >= '2001-01-08' AND date < '2001-02-01'`));
  assert.deepStrictEqual(card.time_range.ingested, { min: '2001-01-01T00:01:00', max: '2001-02-03T23:59:00' });
  // The feature spec: hash of the file bytes, same content inline, fitted on the training rows only.
  assert.strictEqual(card.feature_spec_sha256, sha256Hex(specBytes));
  assert.deepStrictEqual(card.feature_spec, spec);
  assert.strictEqual(spec.fitted_on.rows, card.rows.train);
  // Training parameters, seed, metrics per window, baseline, parent, code commit, time.
  assert.strictEqual(card.training.mlp.params.seed, 7);
  assert.deepStrictEqual(card.training.mlp.params.hidden, [32, 16]);
  assert.strictEqual(card.training.baseline.params.hidden.length, 0);
  for (const w of ['holdout', '2001-02-01..03']) {
    for (const k of ['auc', 'log_loss', 'accuracy', 'precision', 'recall', 'ece']) {
      assert.strictEqual(typeof card.metrics[w][k], 'number', `${w}.${k}`);
      assert.strictEqual(typeof card.baseline_metrics[w][k], 'number');
    }
    assert.ok(card.metrics[w].auc > 0.55);
    assert.strictEqual(card.metrics[w].rows, card.rows[w]);
  }
  assert.strictEqual(card.parent_version, null);
  assert.strictEqual(card.version, 1);
  assert.ok(Math.abs(Date.parse(card.created_at) - Date.now()) < 120_000);
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT });
  if (head.status === 0) assert.strictEqual(card.code.commit, head.stdout.toString().trim());
  assert.ok(card.gates.every((g: { passed: boolean }) => g.passed));
  // Drift baseline: histograms of the training inputs and predictions.
  const hist = card.profile.prediction;
  assert.strictEqual(hist.counts.reduce((a: number, b: number) => a + b, 0), card.rows.train);
  assert.strictEqual(card.profile.time.date.hour_of_day.counts.length, 24);
  assert.strictEqual(card.profile.numeric.distance.counts.reduce((a: number, b: number) => a + b, 0), card.rows.train);
  assert.strictEqual(card.profile.numeric.distance.points.length, card.profile.numeric.distance.counts.length);
  assert.strictEqual(card.profile.categorical.origin.top.length, 20);
  assert.strictEqual(card.profile.categorical.origin.top.reduce((a: number, t: { count: number }) => a + t.count, card.profile.categorical.origin.other_count), card.rows.train);
  assert.ok(card.profile.categorical.origin.other > 0);
  // The export was checked against the trainer, and the server will accept model.json.
  assert.ok(card.onnx.parity.max_abs_diff <= 1e-5 && card.onnx.parity.rows === 2048);
  const modelJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const cfg = parseModelConfig(modelJson, 'flights-delay/model.json', 'flights-delay');
  // The width is each version's (its model file and feature spec), not model.json's.
  assert.deepStrictEqual(cfg.inputs[0].shape, [-1, -1]);
  assert.deepStrictEqual(cfg.predict!.labels, ['on_time', 'delayed']);
  // An MLP the native executor runs, checked on the same held-out rows: served natively.
  assert.strictEqual(cfg.backend, 'native');
  assert.strictEqual(card.serving_backend.backend, 'native');
  assert.ok(card.serving_backend.native_max_abs_diff <= 1e-5, JSON.stringify(card.serving_backend));
  assert.strictEqual(cfg.predict!.threshold, card.threshold);
  const session = await ort.InferenceSession.create(path.join(modelDir, '1', 'model.onnx'));
  assert.deepStrictEqual([session.inputNames, session.outputNames], [['features'], ['probability']]);
  await session.release();
  assert.ok(lines.some((l) => /^registered flights-delay version 1/.test(l)));
});

test('a second run registers version 2 whose parent is 1', async () => {
  const res = await runPipeline({ pipelineFile: variant('v2', () => undefined), repository: repo, rowsLimit: 20_000, log: () => undefined, progress: false });
  assert.strictEqual(res.version, 2);
  const card = JSON.parse(fs.readFileSync(path.join(repo, 'flights-delay', '2', 'card.json'), 'utf8'));
  assert.strictEqual(card.parent_version, 1);
  assert.strictEqual(card.rows.train, 20_000);
  assert.strictEqual(card.pipeline.rows_limit, 20_000);
  assert.deepStrictEqual(listing(path.join(repo, 'flights-delay')), ['1', '2', 'model.json']);
});

test('versions with different feature widths serve side by side: each answers with its own spec and model', async () => {
  const { startServer, postJson } = await import('../../helpers/server');
  const dir = path.join(repo, 'flights-delay');
  const width = (v: number) => (JSON.parse(fs.readFileSync(path.join(dir, String(v), 'feature_spec.json'), 'utf8')) as FeatureSpec).width;
  // Version 2 saw 20,000 rows, version 1 the whole smoke window: their fitted vocabularies differ.
  assert.notStrictEqual(width(1), width(2), 'the premise: two widths');
  const both = fs.mkdtempSync(path.join(tmp, 'serve-'));
  fs.cpSync(dir, path.join(both, 'flights-delay'), { recursive: true });
  const cfgFile = path.join(both, 'flights-delay', 'model.json');
  fs.writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgFile, 'utf8')), version_policy: { all: true } }));
  const srv = await startServer({ repository: both });
  try {
    const features = { date: '2001-03-05 08:15', distance: 733, origin: 'SEA', destination: 'SFO' };
    for (const v of [1, 2]) {
      const r = await postJson(`${srv.url}/predict`, { model: 'flights-delay', model_version: v, features });
      assert.strictEqual(r.status, 200, JSON.stringify(r.json));
      assert.strictEqual(r.json.model_version, String(v));
      // The reference: this version's model run in process on its own spec's transform.
      const spec = loadFeatureSpec(path.join(dir, String(v), 'feature_spec.json'));
      const x = transform(spec, { date: [Date.UTC(2001, 2, 5, 8, 15)], distance: [733], origin: ['SEA'], destination: ['SFO'] });
      const session = await ort.InferenceSession.create(path.join(dir, String(v), 'model.onnx'));
      const out = await session.run({ features: new ort.Tensor('float32', x.data, [1, x.width]) });
      await session.release();
      assert.ok(Math.abs(r.json.probabilities[1] - (out.probability.data as Float32Array)[0]) < 1e-6, `version ${v}`);
      const meta = (await (await fetch(`${srv.url}/v2/models/flights-delay/versions/${v}`)).json()) as { inputs: { shape: number[] }[] };
      assert.deepStrictEqual(meta.inputs[0].shape, [-1, width(v)], 'the metadata shows the version\'s width');
    }
  } finally {
    await srv.server.stop();
  }
});

test('EXPECTED FAILURE - a failed quality gate registers nothing', async () => {
  const before = listing(path.join(repo, 'flights-delay'));
  const modelJson = fs.readFileSync(path.join(repo, 'flights-delay', 'model.json'));
  const file = variant('gate', (c) => {
    c.gates = [{ name: 'impossible', metric: 'auc', min: 0.99 }, { metric: 'auc', beats_baseline_by: 0.5, windows: ['holdout'] }];
  });
  await assert.rejects(runPipeline({ pipelineFile: file, repository: repo, rowsLimit: 5_000, log: () => undefined, progress: false }), (e: unknown) => {
    assert.ok(e instanceof PipelineError);
    assert.strictEqual(e.stage, 'gates');
    assert.match(e.message, /quality gate\(s\) failed; nothing registered/);
    assert.match(e.message, /FAIL {2}impossible \[holdout\]: auc 0\.\d+ \(min 0\.99\)/);
    assert.match(e.message, /auc beats baseline \[holdout\]: mlp 0\.\d+ vs baseline/);
    assert.ok(e.details!.gates!.length === 3);
    return true;
  });
  assert.deepStrictEqual(listing(path.join(repo, 'flights-delay')), before);
  assert.deepStrictEqual(fs.readFileSync(path.join(repo, 'flights-delay', 'model.json')), modelJson);
});

test('EXPECTED FAILURE - a validation failure stops the pipeline before training, with the report', async () => {
  const file = variant('schema', (c) => {
    c.validation.schema.distance = 'DOUBLE';
  });
  await assert.rejects(runPipeline({ pipelineFile: file, repository: repo, log: () => undefined, progress: false }), (e: unknown) => {
    assert.ok(e instanceof PipelineError);
    assert.strictEqual(e.stage, 'validate');
    assert.match(e.message, /FAIL {2}schema +column 'distance' is BIGINT, expected DOUBLE/);
    return true;
  });
  assert.deepStrictEqual(listing(path.join(repo, 'flights-delay')), ['1', '2', 'model.json']);
});

test('BAD CALL - an invalid pipeline file is refused naming the field', async () => {
  const cases: [(c: Record<string, any>) => void, RegExp][] = [
    [(c) => delete c.windows.train, /windows: missing field 'train'/],
    [(c) => (c.models.mlp.epochs = 0), /models\.mlp\.epochs: must be >= 1/],
    [(c) => (c.gates = [{ metric: 'auc', min: 0.5, windows: ['march'] }]), /gates\.0\.windows: unknown window 'march'/],
    [(c) => (c.windows.train.to = '2000-12-31'), /'from' \(2001-01-01\) must be before 'to'/],
    [(c) => (c.colour = 'red'), /unknown field 'colour'/],
    [(c) => (c.source.path = path.join(tmp, 'missing.parquet')), /pipeline failed at ingest: ingest: source '.*missing\.parquet' does not exist/],
  ];
  for (const [edit, re] of cases) {
    await assert.rejects(runPipeline({ pipelineFile: variant('bad', edit), repository: repo, log: () => undefined, progress: false }), re);
  }
});

test('EXPECTED FAILURE - a write error mid-registration leaves no temp folder and no version', () => {
  const dir = path.join(tmp, 'reg');
  const modelJson = JSON.parse(fs.readFileSync(path.join(repo, 'flights-delay', 'model.json'), 'utf8'));
  assert.throws(() => registerModel({ repository: dir, name: 'flights-delay', files: { 'model.onnx': new Uint8Array(8), 'no/such/dir.json': '{}' }, card: {}, modelJson }), /ENOENT/);
  assert.deepStrictEqual(listing(path.join(dir, 'flights-delay')), []);
  // An invalid model.json is refused before anything is written.
  assert.throws(() => registerModel({ repository: dir, name: 'flights-delay', files: {}, card: {}, modelJson: { ...modelJson, backend: 'tensorflow' } }), /backend/);
  assert.deepStrictEqual(listing(path.join(dir, 'flights-delay')), []);
});

test('BAD CALL - the train command rejects bad options; --dry-run --json registers nothing', () => {
  const script = `const { Command } = require('commander'); const { registerTrainCommand } = require(${JSON.stringify(path.join(ROOT, 'dist/src/cli/train-command'))});
    const p = new Command(); registerTrainCommand(p); p.parseAsync(process.argv);`;
  const bad = spawnSync(process.execPath, ['-e', script, 'x', 'train', SMOKE, '--rows-limit', 'lots'], { cwd: ROOT });
  assert.notStrictEqual(bad.status, 0);
  assert.match(bad.stderr.toString(), /--rows-limit <n>' argument 'lots' is invalid\. must be a positive integer/);
  const dry = path.join(tmp, 'dry');
  const out = execFileSync(process.execPath, ['-e', script, 'x', 'train', SMOKE, '--rows-limit', '20000', '--dry-run', '--json', '--repository', dry], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const res = JSON.parse(out.toString());
  assert.strictEqual(res.registered, false);
  assert.strictEqual(res.metrics.holdout.rows, 20_000);
  // No version folder and no model.json: only the run record (experiment tracking) exists.
  assert.deepStrictEqual(fs.readdirSync(dry), ['.infera']);
  assert.strictEqual(typeof res.run, 'number');
});
