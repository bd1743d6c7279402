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
import { runOutcome } from '../../../src/cli/train-command';
import { drawTrials, type SearchSpace } from '../../../src/pipeline/search';
import { columnsOf, FLIGHTS, labelsOf, loadFlights, ROOT } from '../features/flights-data';

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
  assert.match(card.serving_backend.reason, /^the native executor cannot run this model: .*TreeEnsemble/);
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

test('a random search keeps the trial with the best early-stopping AUC; the later windows never decide', async () => {
  const search = { trials: 3, seed: 11, space: { max_leaves: { int: [4, 31] }, learning_rate: { log_uniform: [0.05, 0.3] } } };
  const lines: string[] = [];
  const res = await runPipeline({
    pipelineFile: variant('search', (c) => Object.assign(c.model, { num_iterations: 60, search })), repository: repo, dryRun: true, log: (l) => lines.push(l), progress: false,
  });
  const h = res.card.training as { gbdt: { params: Record<string, number>; history: any } };
  const s = h.gbdt.history.search;
  assert.strictEqual(s.method, 'random');
  assert.deepStrictEqual(s.results.map((t: { params: unknown }) => t.params), drawTrials(search as SearchSpace), 'the trials are the seeded draws, in order');
  for (const t of s.results) {
    assert.ok(Number.isInteger(t.params.max_leaves) && t.params.max_leaves >= 4 && t.params.max_leaves <= 31, JSON.stringify(t.params));
    assert.ok(t.params.learning_rate >= 0.05 && t.params.learning_rate <= 0.3, JSON.stringify(t.params));
  }
  const aucs = s.results.map((t: { valid_auc: number }) => t.valid_auc);
  const best = aucs.indexOf(Math.max(...aucs));
  assert.deepStrictEqual(s.chosen, s.results[best].params);
  assert.strictEqual(h.gbdt.params.max_leaves, s.chosen.max_leaves, 'the card records the parameters used');
  assert.strictEqual(h.gbdt.history.trees, s.results[best].trees, 'the chosen trial\'s model is the one kept');
  // The trial's score (stats AUC of the kept model's float32 probabilities, before calibration)
  // is the trainer's own early-stopping AUC (double raw scores) at its best iteration: the same
  // rows, held out of the fit; float32 rounding makes a few ties (seen: 1e-8 apart).
  const trainerAuc = h.gbdt.history.valid_auc[h.gbdt.history.best_iteration];
  assert.ok(Math.abs(trainerAuc - s.results[best].valid_auc) < 1e-6, `trainer ${trainerAuc} vs search ${s.results[best].valid_auc}`);
  assert.strictEqual(lines.filter((l) => /^ {2}search trial \d\/3: /.test(l)).length, 3, lines.join('\n'));
  // What `infera train` records of the run: a GBDT's curve is its training loss per iteration
  // (the first full run crashed here, after registering, on an MLP-only field).
  const outcome = runOutcome(res);
  assert.deepStrictEqual(outcome.curves.gbdt, h.gbdt.history.train_loss);
  assert.strictEqual(outcome.curves.baseline.length, (res.card.training as any).baseline.history.epochs.length);
  assert.deepStrictEqual(outcome.params.gbdt, h.gbdt.params);
});

/** The served model's probabilities of the real flights of `days` (ONNX, not the trainer). */
async function servedOn(dir: string, days: [string, string][]): Promise<{ p: Float32Array; y: Uint8Array }> {
  const spec = loadFeatureSpec(path.join(dir, 'feature_spec.json'));
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
  const ps: Float32Array[] = [];
  const ys: Uint8Array[] = [];
  try {
    for (const [from, to] of days) {
      const f = await loadFlights({ from, to });
      const x = transform(spec, columnsOf(f));
      const out = await session.run({ features: new ort.Tensor('float32', x.data, [f.rows, x.width]) });
      ps.push(out.probability.data as Float32Array);
      ys.push(labelsOf(f));
    }
  } finally {
    await session.release();
  }
  const cat = <T extends Float32Array | Uint8Array>(parts: T[], make: (n: number) => T): T => {
    const out = make(parts.reduce((n, a) => n + a.length, 0));
    let o = 0;
    for (const a of parts) (out.set(a, o), (o += a.length));
    return out;
  };
  return { p: cat(ps, (n) => new Float32Array(n)), y: cat(ys, (n) => new Uint8Array(n)) };
}

/** Reference figures, written here from their definitions (10 equal-width bins for ECE). */
function reference(y: Uint8Array, p: Float32Array) {
  const n = y.length;
  let ll = 0, bias = 0, slope = 0;
  const [cnt, sy, sp] = [new Float64Array(10), new Float64Array(10), new Float64Array(10)];
  for (let i = 0; i < n; i++) {
    const q = Math.min(Math.max(p[i], 1e-15), 1 - 1e-15);
    ll -= y[i] ? Math.log(q) : Math.log(1 - q);
    bias += p[i] - y[i];
    slope += (p[i] - y[i]) * Math.log(q / (1 - q));
    const b = Math.min(9, Math.floor(p[i] * 10));
    cnt[b]++, (sy[b] += y[i]), (sp[b] += p[i]);
  }
  let ece = 0;
  for (let b = 0; b < 10; b++) if (cnt[b]) ece += Math.abs(sy[b] - sp[b]) / n;
  return { log_loss: ll / n, ece, bias: bias / n, slope: slope / n };
}

test('validation_days: whole days spread over the training window are held out, stop the trees and fit the calibration', async () => {
  const lines: string[] = [];
  const repoDays = path.join(tmp, 'models-days');
  // Training window Jan 1-5; every 3rd day from day 1: Jan 2 and Jan 5.
  const res = await runPipeline({
    pipelineFile: variant('days', (c) => {
      delete c.model.early_stopping_window;
      c.model.validation_days = { every: 3, offset: 1 };
      c.gates.push({ name: 'validation-calibration', metric: 'ece', max: 0.05, windows: ['validation'] });
    }),
    repository: repoDays, log: (l) => lines.push(l), progress: false,
  });
  assert.strictEqual(res.registered, true);
  const card = res.card as any;
  const h = card.training.gbdt.history;
  assert.deepStrictEqual(h.validation.days, ['2001-01-02', '2001-01-05']);
  assert.deepStrictEqual(h.validation.validation_days, { every: 3, offset: 1 });

  // Exactly the rows of those two days are held out: counted by reading each day on its own.
  const served = await servedOn(path.join(repoDays, 'flights-delay-gbdt', '1'), [['2001-01-02', '2001-01-03'], ['2001-01-05', '2001-01-06']]);
  const { y, p } = served;
  assert.strictEqual(h.validation.rows, y.length);
  assert.strictEqual(h.validation.positives, y.reduce((a, b) => a + b, 0));
  assert.strictEqual(h.early_stopping_rows, y.length);
  assert.strictEqual(h.fit_rows + y.length, card.rows.train);
  assert.strictEqual(card.rows.validation, y.length);
  assert.strictEqual(h.best_iteration, h.valid_auc.indexOf(Math.max(...h.valid_auc)), 'the trees stop at the validation rows\' best');

  // Platt is fitted on those rows: a logistic fit with slope and intercept leaves, on its own
  // rows, mean(p − y) = 0 and mean((p − y)·logit p) = 0 (its two score equations). Checked on
  // the exported model's outputs; the holdout days, which it was not fitted on, are far off.
  const c = h.calibration;
  assert.strictEqual(c.method, 'platt');
  assert.strictEqual(c.rows, y.length);
  assert.deepStrictEqual(c.days, h.validation.days);
  const ref = reference(y, p);
  assert.ok(Math.abs(ref.bias) < 2e-4 && Math.abs(ref.slope) < 2e-4, JSON.stringify(ref));
  const holdout = await servedOn(path.join(repoDays, 'flights-delay-gbdt', '1'), [['2001-01-06', '2001-01-08']]);
  assert.ok(Math.abs(reference(holdout.y, holdout.p).bias) > 0.01, JSON.stringify(reference(holdout.y, holdout.p)));
  // Calibration lowers ECE and log loss there; the card's validation figures are the exported model's.
  assert.ok(c.after.ece <= c.before.ece && c.after.log_loss <= c.before.log_loss, JSON.stringify(c));
  const v = card.metrics.validation;
  assert.ok(Math.abs(v.log_loss - ref.log_loss) < 1e-5 && Math.abs(v.log_loss - c.after.log_loss) < 1e-9, `${v.log_loss} vs ${ref.log_loss}`);
  assert.ok(Math.abs(v.ece - ref.ece) < 1e-4 && Math.abs(v.ece - c.after.ece) < 1e-9, `${v.ece} vs ${ref.ece}`);
  assert.strictEqual(v.rows, y.length);
  // The validation window can be gated; the GBDT before calibration is reported per window.
  const gate = res.gates.find((g) => g.gate === 'validation-calibration');
  assert.ok(gate && gate.window === 'validation' && gate.passed === v.ece <= 0.05, JSON.stringify(res.gates));
  for (const w of ['holdout', '2001-02-01..03']) assert.ok(Number.isFinite(card.uncalibrated_metrics[w].ece) && Number.isFinite(card.uncalibrated_metrics[w].log_loss), JSON.stringify(card.uncalibrated_metrics));
  assert.ok(lines.some((l) => /^ {2}validation rows: \d+ of \d+ training rows held out of the fit \(days 2001-01-02, 2001-01-05\)/.test(l)), lines.join('\n'));
});

test('BAD CALL - GBDT pipeline options are checked naming the field', async () => {
  const cases: [(c: Record<string, any>) => void, RegExp][] = [
    [(c) => delete c.model.early_stopping_window, /model\.early_stopping_rounds needs model\.early_stopping_window/],
    [(c) => (c.model.early_stopping_window = { from: '2001-01-01', to: '2001-01-03' }), /must lie inside the training window/],
    [(c) => (c.model.max_bins = 256), /model: must match exactly one schema|max_bins/],
    [(c) => (c.gates = [{ metric: 'auc', min: 0.5, model: 'mlp' }]), /gates\.0\.model: 'mlp' is not trained by this pipeline/],
    [(c) => (delete c.model.early_stopping_window, delete c.model.early_stopping_rounds), /model\.calibration 'platt' is fitted on model\.early_stopping_window/],
    [(c) => (delete c.model.early_stopping_window, delete c.model.early_stopping_rounds, delete c.model.calibration, (c.model.search = { trials: 2, seed: 1, space: { max_leaves: { int: [4, 8] } } })), /model\.search scores its trials on model\.early_stopping_window/],
    [(c) => (c.model.search = { trials: 2, seed: 1, space: { max_leaves: { int: [8, 4] } } }), /model\.search\.space\.max_leaves: low 8 > high 4/],
    [(c) => (c.model.search = { trials: 2, seed: 1, space: { learning_rate: { log_uniform: [0, 0.1] } } }), /model/],
    [(c) => (c.model = { type: 'mlp' }), /models: missing field 'mlp'/],
    [(c) => (c.model.validation_days = { every: 3 }), /model\.early_stopping_window and model\.validation_days both name the validation rows; keep one/],
    [(c) => (delete c.model.early_stopping_window, (c.model.validation_days = { every: 3, offset: 3 })), /model\.validation_days\.offset 3 must be below every \(3\)/],
    [(c) => (delete c.model.early_stopping_window, (c.model.validation_days = { every: 7 })), /model\.validation_days\.every 7 is a multiple of 7/],
    [(c) => (delete c.model.early_stopping_window, (c.model.validation_days = { every: 9, offset: 6 })), /model\.validation_days: the training window has 5 day\(s\), none of them day 6/],
    [(c) => (delete c.model.early_stopping_window, (c.model.validation_days = { every: 1 })), /model\.validation_days\.every: must be >= 2|validation_days/],
    [(c) => (delete c.model.early_stopping_window, (c.model.validation_days = { every: 3, days: 2 })), /model\.validation_days: unknown field 'days'/],
    [(c) => c.gates.push({ metric: 'ece', beats_baseline_by: 0, windows: ['validation'] }), /gates\.2: the baseline is fitted on the validation rows/],
    [(c) => (delete c.model.early_stopping_window, delete c.model.early_stopping_rounds, delete c.model.calibration, c.gates.push({ metric: 'ece', max: 0.1, windows: ['validation'] })), /gates\.2\.windows: unknown window 'validation'/],
  ];
  for (const [edit, re] of cases) {
    await assert.rejects(runPipeline({ pipelineFile: variant('bad', edit), repository: repo, log: () => undefined, progress: false }), re);
  }
});
