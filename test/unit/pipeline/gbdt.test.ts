// The GBDT trainer (native/src/gbdt) and its ONNX export on real flights: January rows
// through the pipeline's feature spec (the flights-delay pipeline's features), checked
// against the test-side tree walker (test/helpers/gbdt-walker.ts), onnxruntime and the
// onnx checker; early stopping against the recorded curve; quality against the logistic
// baseline of models/flights-delay.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { FeatureSpec, fitFeatures, sha256Hex, transform, transformSparse } from '../../../src/features';
import { auc } from '../../../src/stats/classification';
import { categoricalColumns, exportGbdtOnnx, gbdtColumns, GbdtColumn, gbdtMatrix, GbdtModel, GbdtOptions, gbdtRawScores, trainGbdt } from '../../../src/pipeline/gbdt';
import { rankAuc, walkRaw } from '../../helpers/gbdt-walker';
import { columnsOf, FlightRows, labelsOf, loadFlights, ROOT } from '../features/flights-data';

interface Part { rows: number; x: Float32Array; y: Uint8Array; dense?: Float32Array }

let spec: FeatureSpec;
let columns: GbdtColumn[];
let train: Part;
let valid: Part; // Jan 25-27: early stopping
let feb: Part;
let model: GbdtModel;

const OPTS: GbdtOptions = {
  num_iterations: 80, learning_rate: 0.1, max_leaves: 31, min_data_in_leaf: 40, lambda_l2: 1,
  bagging_fraction: 0.8, feature_fraction: 0.8, seed: 7, early_stopping_rounds: 10, metric: 'logloss',
};

function part(f: FlightRows, dense = false): Part {
  const cols = columnsOf(f);
  return { rows: f.rows, x: gbdtMatrix(columns, transformSparse(spec, cols)), y: labelsOf(f), dense: dense ? transform(spec, cols).data : undefined };
}

const fit = (opts: GbdtOptions = OPTS) => trainGbdt({ x: train.x, rows: train.rows, cols: columns.length, y: train.y, categorical: categoricalColumns(columns) }, { ...opts, valid: { x: valid.x, rows: valid.rows, y: valid.y } });

before(async () => {
  const pipeline = JSON.parse(fs.readFileSync(path.join(ROOT, 'pipelines/flights-delay.json'), 'utf8'));
  const tr = await loadFlights({ from: '2001-01-01', to: '2001-01-25' }, 30_000);
  spec = fitFeatures(columnsOf(tr), { ...pipeline.features, window: { from: '2001-01-01', to: '2001-01-25' } });
  columns = gbdtColumns(spec);
  train = part(tr);
  valid = part(await loadFlights({ from: '2001-01-25', to: '2001-01-28' }, 10_000));
  feb = part(await loadFlights({ from: '2001-02-01', to: '2001-03-01' }, 4_000), true);
  model = fit();
});

/** The serving tensor of trainer rows: numeric slots at their column, a code as its one-hot column; NaN code = all-zero block. */
function servingRows(x: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(rows * spec.width);
  for (let r = 0; r < rows; r++) {
    columns.forEach((c, k) => {
      const v = x[r * columns.length + k];
      if (c.kind === 'numeric') out[r * spec.width + c.column] = v;
      else if (c.kind === 'onehot' && !Number.isNaN(v) && v < c.width) out[r * spec.width + c.offset + v] = 1;
    });
  }
  return out;
}

async function runOrt(onnx: Uint8Array, dense: Float32Array, rows: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(onnx);
  try {
    assert.deepStrictEqual([s.inputNames, s.outputNames], [['features'], ['probability']]);
    const out = await s.run({ features: new ort.Tensor('float32', dense, [rows, spec.width]) });
    assert.deepStrictEqual(out.probability.dims, [rows, 1]);
    return out.probability.data as Float32Array;
  } finally {
    await s.release();
  }
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.strictEqual(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d; // NaN counts as the worst
  }
  return worst;
}

/** The next float32 above / below v. */
function nextF32(v: number, dir: 1 | -1): number {
  const f = new Float32Array([v]);
  const i = new Int32Array(f.buffer);
  i[0] += v === 0 ? (dir > 0 ? 1 : -0x7fffffff - 1 + 1) : (v > 0 ? dir : -dir);
  return f[0];
}

/**
 * Edge rows from real February rows: every numeric split threshold of the model set exactly,
 * one float32 step above and below, NaN (missing); categorical columns set to a code of a
 * split, a code never seen in training (unseen) and NaN (missing: an all-zero block).
 */
function edgeRows(m: GbdtModel): { x: Float32Array; rows: number } {
  const cols = columns.length;
  const rowsOut: Float32Array[] = [];
  const seenCodes = columns.map(() => new Set<number>());
  for (let r = 0; r < train.rows; r++) columns.forEach((c, k) => c.kind !== 'numeric' && seenCodes[k].add(train.x[r * cols + k]));
  let base = 0;
  const variant = (k: number, v: number) => {
    const row = feb.x.slice((base % feb.rows) * cols, (base % feb.rows + 1) * cols);
    base++;
    row[k] = v;
    rowsOut.push(row);
  };
  for (const t of m.trees) {
    for (let i = 0; i < t.feature.length; i++) {
      const k = t.feature[i];
      if (k < 0) continue;
      if (!t.categorical[i]) {
        const th = t.threshold[i];
        for (const v of [th, nextF32(th, 1), nextF32(th, -1), NaN]) variant(k, v);
      } else {
        const c = columns[k] as Extract<GbdtColumn, { kind: 'onehot' }>;
        let unseen = -1;
        for (let code = 0; code < c.width && unseen < 0; code++) if (!seenCodes[k].has(code)) unseen = code;
        variant(k, t.catCodes[t.catBegin[i]]);
        variant(k, NaN);
        if (unseen >= 0) variant(k, unseen);
      }
    }
  }
  const x = new Float32Array(rowsOut.length * cols);
  rowsOut.forEach((row, i) => x.set(row, i * cols));
  return { x, rows: rowsOut.length };
}

test('the trainer columns are exact: rebuilt as the serving tensor they equal the transform, bit for bit', () => {
  assert.deepStrictEqual(categoricalColumns(columns), [4, 7, 8, 9, 10, 11]); // hour, day, origin, destination, two crosses
  assert.deepStrictEqual(servingRows(feb.x, feb.rows), feb.dense);
});

test('the trainer routes rows as the reference walker does: its training loss curve is the walker\'s loss', () => {
  assert.ok(model.trees.length >= 10, `${model.trees.length} trees`);
  const walked = walkRaw(model, train.x, train.rows, columns.length);
  let loss = 0;
  for (let i = 0; i < train.rows; i++) {
    const p = Math.min(Math.max(sigmoid(walked[i]), 1e-15), 1 - 1e-15);
    loss -= train.y[i] ? Math.log(p) : Math.log(1 - p);
  }
  loss /= train.rows;
  // The trainer routed training rows by their bins, the walker by float compares.
  assert.ok(Math.abs(loss - model.trainLoss[model.bestIteration]) <= 1e-12, `walker ${loss} vs trainer ${model.trainLoss[model.bestIteration]}`);
  assert.ok(model.trainLoss[model.bestIteration] < model.trainLoss[0], 'training loss decreases');
});

test('the trainer\'s predictions equal the reference walker on training, February and edge rows', () => {
  const edges = edgeRows(model);
  assert.ok(edges.rows > 500, `${edges.rows} edge rows`);
  for (const [name, x, rows] of [['train', train.x, train.rows], ['feb', feb.x, feb.rows], ['edges', edges.x, edges.rows]] as const) {
    // Same semantics, same float64 sums in the same order: identical.
    assert.deepStrictEqual(gbdtRawScores(model, x, rows), walkRaw(model, x, rows, columns.length), name);
  }
  // The edge rows do reach both sides of splits: not every variant gives the base row's score.
  const raw = gbdtRawScores(model, edges.x, edges.rows);
  assert.ok(new Set(raw).size > edges.rows / 20, `${new Set(raw).size} distinct scores`);
});

test('onnxruntime serves the trainer\'s probabilities (≤ 1e-6) on training, February and edge rows', async () => {
  const onnx = exportGbdtOnnx(model, columns, spec.width, { opset: 13 });
  const n = 4000;
  const edges = edgeRows(model);
  for (const [name, x, rows] of [['train', train.x.subarray(0, n * columns.length), n], ['feb', feb.x, feb.rows], ['edges', edges.x, edges.rows]] as const) {
    const served = await runOrt(onnx, name === 'feb' ? feb.dense! : servingRows(x, rows), rows);
    const walker = Float64Array.from(walkRaw(model, x, rows, columns.length), sigmoid);
    const trainer = Float64Array.from(gbdtRawScores(model, x, rows), sigmoid);
    const d = maxDiff(served, walker);
    assert.ok(d <= 1e-6, `${name}: onnxruntime vs walker max |diff| ${d}`);
    assert.ok(maxDiff(served, trainer) <= 1e-6, name);
  }
  // One row at a time (as /predict serves) gives the batch's numbers.
  const one = await runOrt(onnx, feb.dense!.subarray(0, spec.width), 1);
  const batch = await runOrt(onnx, feb.dense!, feb.rows);
  assert.ok(Math.abs(one[0] - batch[0]) <= 1e-7);
});

test('codes as plain columns (BRANCH_EQ chains): onnxruntime equals the walker with NaN and unseen codes (≤ 1e-6)', async () => {
  // The trainer's own matrix as the ONNX input: numeric columns as they are, categorical
  // ones as their codes; NaN is missing in both kinds.
  const plain: GbdtColumn[] = columns.map((c, k) => (c.kind === 'numeric' ? { kind: 'numeric', column: k } : { kind: 'code', column: k }));
  const onnx = exportGbdtOnnx(model, plain, columns.length, { opset: 13 });
  const edges = edgeRows(model);
  const s = await ort.InferenceSession.create(onnx);
  try {
    const out = await s.run({ features: new ort.Tensor('float32', edges.x, [edges.rows, columns.length]) });
    const walker = Float64Array.from(walkRaw(model, edges.x, edges.rows, columns.length), sigmoid);
    const d = maxDiff(out.probability.data as Float32Array, walker);
    assert.ok(d <= 1e-6, `max |diff| ${d}`);
  } finally {
    await s.release();
  }
});

const hasPythonOnnx = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;

test('the GBDT export passes onnx.checker (full check) when Debian python3-onnx is installed', { skip: hasPythonOnnx ? false : '/usr/bin/python3 cannot import onnx' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-gbdt-'));
  try {
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, exportGbdtOnnx(model, columns, spec.width, { opset: 13 }));
    const out = execFileSync('/usr/bin/python3', ['-c', [
      'import onnx, sys',
      'm = onnx.load(sys.argv[1])',
      'onnx.checker.check_model(m, full_check=True)',
      'te = m.graph.node[0]',
      'a = {x.name: x for x in te.attribute}',
      'print(sorted((o.domain, o.version) for o in m.opset_import), [n.op_type for n in m.graph.node], a["post_transform"].s.decode(), len(set(a["nodes_treeids"].ints)), [d.dim_param or d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim])',
    ].join('\n'), file]).toString();
    assert.strictEqual(out.trim(), `[('', 13), ('ai.onnx.ml', 3)] ['TreeEnsembleClassifier', 'Gather'] LOGISTIC ${model.trees.length} ['N', 1]`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('determinism: the same seed exports identical bytes; another seed with subsampling does not', () => {
  const opts = { ...OPTS, num_iterations: 15, early_stopping_rounds: 0 };
  const bytes = (m: GbdtModel) => sha256Hex(exportGbdtOnnx(m, columns, spec.width, { opset: 13 }));
  const a = bytes(fit(opts));
  assert.strictEqual(bytes(fit(opts)), a);
  assert.notStrictEqual(bytes(fit({ ...opts, seed: 8 })), a);
  // Without any subsampling the seed has nothing to draw: the same model.
  const full = { ...opts, bagging_fraction: 1, feature_fraction: 1 };
  assert.strictEqual(bytes(fit({ ...full, seed: 1 })), bytes(fit({ ...full, seed: 2 })));
});

test('threads: the compute pool and one thread train the same model bit for bit (curves included)', () => {
  // 30,000 rows are two row blocks, so gradients, partitions, score updates and the loss
  // sums are split across threads, as are the histograms (one feature per task).
  const opts = { ...OPTS, num_iterations: 25, early_stopping_rounds: 0 };
  const one = fit({ ...opts, num_threads: 1 });
  const pool = fit({ ...opts, num_threads: 0 });
  assert.deepStrictEqual(pool.trainLoss, one.trainLoss);
  assert.deepStrictEqual(pool.validAuc, one.validAuc);
  assert.deepStrictEqual(pool.trees, one.trees);
  assert.strictEqual(pool.initScore, one.initScore);
});

test('early stopping keeps the best validation iteration of the recorded curve', () => {
  const losses = Array.from(model.validLoss);
  const best = losses.indexOf(Math.min(...losses));
  assert.strictEqual(model.bestIteration, best);
  assert.strictEqual(model.trees.length, best + 1);
  // It stopped `early_stopping_rounds` after the best, or ran out of iterations.
  assert.ok(losses.length === best + 1 + OPTS.early_stopping_rounds! || losses.length === OPTS.num_iterations, `curve ${losses.length}, best ${best}`);
  // AUC as the metric: its curve's maximum is kept, and the recorded value is the AUC of
  // the kept model on the validation rows.
  const byAuc = fit({ ...OPTS, metric: 'auc' });
  const curve = Array.from(byAuc.validAuc);
  const bestAuc = curve.indexOf(Math.max(...curve));
  assert.strictEqual(byAuc.trees.length, bestAuc + 1);
  assert.ok(curve.length === bestAuc + 1 + OPTS.early_stopping_rounds! || curve.length === OPTS.num_iterations);
  const kept = rankAuc(valid.y, walkRaw(byAuc, valid.x, valid.rows, columns.length));
  assert.ok(Math.abs(kept - curve[bestAuc]) <= 1e-12, `${kept} vs ${curve[bestAuc]}`);
});

test('quality: AUC on the holdout week beats the logistic baseline of models/flights-delay (project AUC and an independent one)', async () => {
  // As the pipeline does: early stopping on the last days of the training window (Jan 22-24),
  // the holdout week (Jan 25-31, the baseline's window) never seen before this check.
  const card = JSON.parse(fs.readFileSync(path.join(ROOT, 'models/flights-delay/1/card.json'), 'utf8'));
  const baseline = card.baseline_metrics.holdout.auc as number;
  const fitRows = part(await loadFlights({ from: '2001-01-01', to: '2001-01-22' }, 150_000));
  const stopRows = part(await loadFlights({ from: '2001-01-22', to: '2001-01-25' }, 20_000));
  const holdout = part(await loadFlights({ from: '2001-01-25', to: '2001-02-01' }, 40_000));
  const m = trainGbdt({ x: fitRows.x, rows: fitRows.rows, cols: columns.length, y: fitRows.y, categorical: categoricalColumns(columns) }, { ...OPTS, num_iterations: 150, metric: 'auc', early_stopping_rounds: 20, valid: { x: stopRows.x, rows: stopRows.rows, y: stopRows.y } });
  const raw = gbdtRawScores(m, holdout.x, holdout.rows);
  const ours = auc(holdout.y, Float32Array.from(raw, sigmoid));
  const independent = rankAuc(holdout.y, raw);
  assert.ok(Math.abs(ours - independent) <= 1e-4, `${ours} vs ${independent}`);
  assert.ok(ours > baseline + 0.01, `GBDT ${ours} (${m.trees.length} trees, ${fitRows.rows} rows) vs logistic baseline ${baseline}`);
  console.log(`# GBDT holdout AUC ${ours.toFixed(4)} (independent ${independent.toFixed(4)}), ${m.trees.length} trees on ${fitRows.rows} rows; logistic baseline ${baseline.toFixed(4)}`);
});

test('BAD CALL - labels, codes, options and shapes are checked', () => {
  const x = train.x.subarray(0, 100 * columns.length);
  const y = train.y.subarray(0, 100);
  const cat = categoricalColumns(columns);
  const t = (over: Partial<Parameters<typeof trainGbdt>[0]>, opts: GbdtOptions = { num_iterations: 1 }) => trainGbdt({ x, rows: 100, cols: columns.length, y, categorical: cat, ...over }, opts);
  assert.throws(() => t({ y: Uint8Array.from(y, (v, i) => (i === 3 ? 2 : v)) }), /label of row 3 is 2/);
  const frac = x.slice();
  frac[5 * columns.length + 4] = 1.5;
  assert.throws(() => t({ x: frac }), /categorical column 4 row 5: 1\.5.* not an integer code/);
  assert.throws(() => t({ rows: 99 }), /x has \d+ elements, expected/);
  assert.throws(() => t({ categorical: [12] }), /categorical column 12 is outside/);
  assert.throws(() => t({}, { max_bins: 256 }), /max_bins must be an integer in 2\.\.255/);
  assert.throws(() => t({}, { early_stopping_rounds: 5 }), /early stopping needs a validation set/);
  assert.throws(() => t({}, { metric: 'mse' as 'auc' }), /metric must be 'logloss' or 'auc'/);
  assert.throws(() => t({}, { num_threads: 2 }), /num_threads must be an integer in 0\.\.1/);
  assert.throws(() => exportGbdtOnnx(model, columns.slice(1), spec.width, { opset: 13 }), /11 column mappings for a model of 12 columns/);
});
