// `infera train` with "model": {"type": "gbdt"}: the smoke slice of flights-3m (train Jan 1-5
// with Jan 5 held out for early stopping, holdout Jan 6-7, evaluate Feb 1-3) trains, gates,
// exports and registers a tree ensemble that /predict serves exactly like the MLP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseModelConfig } from '../../../src/config/model-config';
import { loadFeatureSpec, transform } from '../../../src/features';
import { runPipeline } from '../../../src/pipeline/run-pipeline';
import { FLIGHTS, ROOT } from '../features/flights-data';

const SMOKE = path.join(ROOT, 'pipelines/flights-delay-smoke.json');
let tmp: string;
let repo: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-gbdt-pipeline-'));
  repo = path.join(tmp, 'models');
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const GBDT = {
  type: 'gbdt', num_iterations: 200, learning_rate: 0.1, max_leaves: 31, min_data_in_leaf: 50, lambda_l2: 1,
  bagging_fraction: 0.8, feature_fraction: 0.8, early_stopping_rounds: 10, metric: 'auc',
  early_stopping_window: { from: '2001-01-05', to: '2001-01-06' }, seed: 5, calibration: 'platt',
};

function variant(name: string, edit: (cfg: Record<string, any>) => void): string {
  const cfg = JSON.parse(fs.readFileSync(SMOKE, 'utf8'));
  cfg.source.path = FLIGHTS;
  cfg.name = 'flights-delay-gbdt';
  cfg.model = { ...GBDT };
  delete cfg.models.mlp;
  edit(cfg);
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(cfg));
  return file;
}

test('the GBDT pipeline registers a version that /predict serves like the MLP\'s', async () => {
  const lines: string[] = [];
  const res = await runPipeline({ pipelineFile: variant('gbdt', () => undefined), repository: repo, log: (l) => lines.push(l), progress: false });
  assert.strictEqual(res.registered, true);
  const dir = path.join(repo, 'flights-delay-gbdt');
  const card = JSON.parse(fs.readFileSync(path.join(dir, '1', 'card.json'), 'utf8'));
  assert.strictEqual(card.exported_model, 'gbdt');
  assert.deepStrictEqual(Object.keys(card.training).sort(), ['baseline', 'gbdt']);
  const h = card.training.gbdt.history;
  // Early stopping on Jan 5 (inside the training window): the kept trees are the curve's best.
  assert.strictEqual(h.best_iteration, h.valid_auc.indexOf(Math.max(...h.valid_auc)));
  assert.strictEqual(h.trees, h.best_iteration + 1);
  assert.strictEqual(h.fit_rows + h.early_stopping_rows, card.rows.train);
  assert.ok(h.early_stopping_rows > 1000 && h.fit_rows > 3 * h.early_stopping_rows, `${h.fit_rows} / ${h.early_stopping_rows}`);
  // One trainer column per entry slot of the feature spec (the card stores keys sorted).
  assert.deepStrictEqual(Object.keys(h.feature_gain), ['date.day_of_week.cos', 'date.day_of_week.sin', 'date.hour_of_day.cos', 'date.hour_of_day.sin', 'day_of_week', 'destination', 'destination|3h', 'distance', 'hour_of_day', 'log1p(distance)', 'origin', 'origin|3h']);
  for (const w of ['holdout', '2001-02-01..03']) assert.ok(card.metrics[w].auc > card.baseline_metrics[w].auc - 0.02 && card.metrics[w].auc > 0.55, `${w}: ${card.metrics[w].auc}`);
  // Platt scaling fitted on the early-stopping rows and folded into the exported trees (the
  // parity below is against the calibrated trainer): the fit can only lower their log loss.
  const c = h.calibration;
  assert.strictEqual(c.method, 'platt');
  assert.strictEqual(c.rows, h.early_stopping_rows);
  assert.ok(Number.isFinite(c.a) && c.a > 0 && Number.isFinite(c.b), JSON.stringify(c));
  assert.ok(c.after.log_loss <= c.before.log_loss, JSON.stringify(c));
  assert.ok(lines.some((l) => /^ {2}calibration: Platt a /.test(l)), lines.join('\n'));
  assert.ok(card.onnx.parity.max_abs_diff <= 1e-6, `${card.onnx.parity.max_abs_diff}`);
  assert.strictEqual(card.onnx.ml_opset, 3);
  assert.ok(lines.some((l) => /^ {2}gbdt: \d+ trees kept of \d+/.test(l)), lines.join('\n'));

  // model.json: the same serving contract as the MLP's (one FP32 input, probability [-1, 1]).
  const cfg = parseModelConfig(JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')), 'model.json', 'flights-delay-gbdt');
  assert.strictEqual(cfg.backend, 'onnxruntime');
  assert.deepStrictEqual(cfg.outputs.map((o) => [o.name, o.datatype, o.shape]), [['probability', 'FP32', [-1, 1]]]);
  assert.strictEqual(cfg.predict!.output, 'probability');

  const { startServer, postJson } = await import('../../helpers/server');
  const srv = await startServer({ repository: repo });
  try {
    const spec = loadFeatureSpec(path.join(dir, '1', 'feature_spec.json'));
    const session = await ort.InferenceSession.create(path.join(dir, '1', 'model.onnx'));
    try {
      for (const features of [
        { date: '2001-03-05 08:15', distance: 733, origin: 'SEA', destination: 'SFO' },
        { date: '2001-02-02 18:40', distance: 1846, origin: 'ORD', destination: 'LAX' },
        { date: '2001-02-03 06:05', distance: 95, origin: 'ZZZ', destination: 'QQQ' }, // unseen airports: the unknown bucket
      ]) {
        const r = await postJson(`${srv.url}/predict`, { model: 'flights-delay-gbdt', features });
        assert.strictEqual(r.status, 200, JSON.stringify(r.json));
        const x = transform(spec, { date: [features.date], distance: [features.distance], origin: [features.origin], destination: [features.destination] });
        const out = await session.run({ features: new ort.Tensor('float32', x.data, [1, x.width]) });
        const p = (out.probability.data as Float32Array)[0];
        assert.ok(Math.abs(r.json.probabilities[1] - p) < 1e-6, `${JSON.stringify(features)}: served ${r.json.probabilities[1]} vs ${p}`);
        assert.strictEqual(r.json.prediction, p >= card.threshold ? 'delayed' : 'on_time');
      }
    } finally {
      await session.release();
    }
  } finally {
    await srv.server.stop();
  }
});

test('BAD CALL - GBDT pipeline options are checked naming the field', async () => {
  const cases: [(c: Record<string, any>) => void, RegExp][] = [
    [(c) => delete c.model.early_stopping_window, /model\.early_stopping_rounds needs model\.early_stopping_window/],
    [(c) => (c.model.early_stopping_window = { from: '2001-01-01', to: '2001-01-03' }), /must lie inside the training window/],
    [(c) => (c.model.max_bins = 256), /model: must match exactly one schema|max_bins/],
    [(c) => (c.gates = [{ metric: 'auc', min: 0.5, model: 'mlp' }]), /gates\.0\.model: 'mlp' is not trained by this pipeline/],
    [(c) => (delete c.model.early_stopping_window, delete c.model.early_stopping_rounds), /model\.calibration 'platt' is fitted on model\.early_stopping_window/],
    [(c) => (c.model = { type: 'mlp' }), /models: missing field 'mlp'/],
  ];
  for (const [edit, re] of cases) {
    await assert.rejects(runPipeline({ pipelineFile: variant('bad', edit), repository: repo, log: () => undefined, progress: false }), re);
  }
});
