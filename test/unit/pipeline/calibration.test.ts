// Platt scaling (src/pipeline/calibration.ts) against scikit-learn's unregularised logistic
// regression on real scores: the committed flights-delay model on 3,000 real February 2001
// flights, its logit as the one feature. The reference figures were computed once with
// Debian's python3-sklearn (test/fixtures/calibration/README.md) from exactly these inputs,
// whose sha256 the fixture records. Folding into a GBDT is checked against σ(a·z + b).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { loadFeatureSpec, transform } from '../../../src/features';
import { fitPlatt, plattLogLoss } from '../../../src/pipeline/calibration';
import { categoricalColumns, gbdtColumns, gbdtMatrix, gbdtRawScores, plattFolded, trainGbdt } from '../../../src/pipeline/gbdt';
import { transformSparse } from '../../../src/features';
import { columnsOf, labelsOf, loadFlights, ROOT } from '../features/flights-data';

const VERSION_DIR = path.join(ROOT, 'models/flights-delay/1');
const FIXTURE = path.join(ROOT, 'test/fixtures/calibration/platt-reference.json');

let z: Float64Array;
let y: Uint8Array;

/** The model's logit of each row, from its float32 probability. */
async function realScores(): Promise<{ z: Float64Array; y: Uint8Array }> {
  const rows = await loadFlights({ from: '2001-02-01', to: '2001-03-01' }, 3000);
  const spec = loadFeatureSpec(path.join(VERSION_DIR, 'feature_spec.json'));
  const t = transform(spec, columnsOf(rows));
  const session = await ort.InferenceSession.create(path.join(VERSION_DIR, 'model.onnx'));
  try {
    const out = await session.run({ features: new ort.Tensor('float32', t.data, [rows.rows, spec.width]) });
    const p = out.probability.data as Float32Array;
    return { z: Float64Array.from(p, (v) => Math.log(v / (1 - v))), y: labelsOf(rows) };
  } finally {
    await session.release();
  }
}

before(async () => {
  ({ z, y } = await realScores());
});

test('the inputs are the ones the scikit-learn reference was computed from', () => {
  const ref = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
  const digest = createHash('sha256').update(Buffer.from(z.buffer)).update(Buffer.from(y.buffer)).digest('hex');
  assert.equal(z.length, ref.rows);
  assert.equal(digest, ref.inputs_sha256, 'scores or labels changed: recompute the reference (test/fixtures/calibration/README.md)');
});

test('fitPlatt equals scikit-learn LogisticRegression(penalty=None) on the real scores', () => {
  const ref = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
  const p = fitPlatt(z, y);
  assert.ok(Math.abs(p.a - ref.a) <= 1e-5 * Math.abs(ref.a), `a ${p.a} vs sklearn ${ref.a}`);
  assert.ok(Math.abs(p.b - ref.b) <= 1e-5 * Math.max(1, Math.abs(ref.b)), `b ${p.b} vs sklearn ${ref.b}`);
  assert.ok(Math.abs(plattLogLoss(z, y, p) - ref.log_loss) <= 1e-9, `log loss ${plattLogLoss(z, y, p)} vs ${ref.log_loss}`);
  // February is later than the model's training month: the scores need recalibrating (a ≠ 1 or b ≠ 0).
  assert.ok(plattLogLoss(z, y, p) < plattLogLoss(z, y, { a: 1, b: 0 }));
});

test('BAD CALL - fitPlatt refuses rows of one class and mismatched lengths', () => {
  assert.throws(() => fitPlatt(z.subarray(0, 10), new Uint8Array(10)), /one class only/);
  assert.throws(() => fitPlatt(z, y.subarray(0, 5)), /3000 scores and 5 labels/);
  assert.throws(() => fitPlatt([], []), /0 scores/);
});

test('folded into a GBDT, Platt scaling is σ(a·z + b) of the unfolded raw score', async () => {
  const rows = await loadFlights({ from: '2001-01-01', to: '2001-01-08' }, 20_000);
  const spec = loadFeatureSpec(path.join(VERSION_DIR, 'feature_spec.json'));
  const cols = gbdtColumns(spec);
  const x = gbdtMatrix(cols, transformSparse(spec, columnsOf(rows)));
  const model = trainGbdt({ x, rows: rows.rows, cols: cols.length, y: labelsOf(rows), categorical: categoricalColumns(cols) }, { num_iterations: 20, learning_rate: 0.2, max_leaves: 15, min_data_in_leaf: 50, seed: 3 });
  const p = { a: 0.8731, b: -0.1194 };
  const raw = gbdtRawScores(model, x, rows.rows);
  const folded = gbdtRawScores(plattFolded(model, p), x, rows.rows);
  let worst = 0;
  for (let i = 0; i < rows.rows; i++) worst = Math.max(worst, Math.abs(folded[i] - (p.a * raw[i] + p.b)));
  assert.ok(worst <= 1e-9, `folded raw score differs by ${worst}`);
});
