import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import * as ort from 'onnxruntime-node';
import { FeatureSpec, fitFeatures, sha256Hex, transform, transformSparse } from '../../../src/features';
import { auc } from '../../../src/stats/classification';
import { createNetwork, CsrMatrix, fromSparseRows, Network, predict, predictDense, toCsr } from '../../../src/pipeline/network';
import { exportOnnx } from '../../../src/pipeline/onnx-writer';
import { progressReporter } from '../../../src/pipeline/progress';
import { train, TrainOptions } from '../../../src/pipeline/trainer';
import { columnsOf, FlightRows, labelsOf, loadFlights } from '../features/flights-data';

let spec: FeatureSpec;
let trainX: CsrMatrix;
let trainY: Uint8Array;
let held: FlightRows;
let heldDense: Float32Array;

const OPTS: TrainOptions = { epochs: 2, batch_size: 128, learning_rate: 0.003, lr_schedule: 'cosine', l2: 1e-5, seed: 11 };

before(async () => {
  // Real flights: a 30k-row subset of Jan 8-14 2001 to train on, Jan 15 to check.
  const tr = await loadFlights({ from: '2001-01-08', to: '2001-01-15' }, 30_000);
  held = await loadFlights({ from: '2001-01-15', to: '2001-01-16' }, 5_000);
  spec = fitFeatures(columnsOf(tr), { timestamp: 'date', numeric: [{ name: 'distance', transforms: ['log1p'] }], categorical: [{ name: 'origin', min_count: 30 }, { name: 'destination', min_count: 30 }] });
  const t = transform(spec, columnsOf(tr));
  trainX = toCsr(t.data, t.rows, t.width);
  trainY = labelsOf(tr);
  heldDense = transform(spec, columnsOf(held)).data;
});

const weightsHash = (net: Network) => sha256Hex(Buffer.concat(net.layers.flatMap((l) => [Buffer.from(l.W.buffer), Buffer.from(l.b.buffer)])));

function fit(hidden: number[], opts = OPTS): { net: Network; loss: number[]; rate: number } {
  const net = createNetwork(spec.width, hidden, opts.seed);
  const h = train(net, trainX, trainY, opts);
  return { net, loss: h.epochs.map((e) => e.loss), rate: h.rows_per_second };
}

test('training is reproducible: the same seed gives identical weights, another seed does not', () => {
  const a = fit([16, 8]);
  const b = fit([16, 8]);
  assert.strictEqual(weightsHash(a.net), weightsHash(b.net));
  const c = fit([16, 8], { ...OPTS, seed: 12 });
  assert.notStrictEqual(weightsHash(c.net), weightsHash(a.net));
  assert.ok(a.loss[1] < a.loss[0], `loss ${a.loss}`);
});

test('the MLP and the logistic baseline learn something real on held-out flights', () => {
  const y = labelsOf(held);
  const mlp = fit([16, 8]);
  const logreg = fit([], { ...OPTS, learning_rate: 0.01 });
  const aucMlp = auc(y, predictDense(mlp.net, heldDense, held.rows));
  const aucLr = auc(y, predictDense(logreg.net, heldDense, held.rows));
  assert.ok(aucMlp > 0.6 && aucLr > 0.6, `AUC mlp ${aucMlp}, logreg ${aucLr}`);
  assert.ok(mlp.rate > 10_000, `${mlp.rate} rows/s`);
});

async function runOrt(onnx: Uint8Array, data: Float32Array, rows: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(onnx);
  try {
    assert.deepStrictEqual(s.inputNames, ['features']);
    assert.deepStrictEqual(s.outputNames, ['probability']);
    const out = await s.run({ features: new ort.Tensor('float32', data, [rows, spec.width]) });
    assert.deepStrictEqual(out.probability.dims, [rows, 1]);
    return out.probability.data as Float32Array;
  } finally {
    await s.release();
  }
}

test('ONNX export: onnxruntime equals the trainer forward pass on held-out rows (≤ 1e-5)', async () => {
  for (const hidden of [[16, 8], []]) {
    const { net } = fit(hidden);
    const onnx = exportOnnx(net, { opset: 13, producerVersion: 'test', metadata: { k: 'v' } });
    const mine = predict(net, toCsr(heldDense, held.rows, spec.width));
    // The trainer's sparse input (explicit zeros included) gives bit-identical predictions.
    assert.deepStrictEqual(predict(net, fromSparseRows(transformSparse(spec, columnsOf(held)))), mine);
    const theirs = await runOrt(onnx, heldDense, held.rows);
    let worst = 0;
    for (let i = 0; i < held.rows; i++) worst = Math.max(worst, Math.abs(mine[i] - theirs[i]));
    assert.ok(worst <= 1e-5, `hidden ${hidden}: max |diff| ${worst}`);
    // Batch size 1 (serving) gives the same numbers as the batch.
    const one = await runOrt(onnx, heldDense.slice(0, spec.width), 1);
    assert.ok(Math.abs(one[0] - theirs[0]) <= 1e-6);
  }
});

const hasPythonOnnx = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;

test('ONNX export passes onnx.checker (full check) when Debian python3-onnx is installed', { skip: hasPythonOnnx ? false : '/usr/bin/python3 cannot import onnx' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-onnx-'));
  try {
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, exportOnnx(fit([16, 8], { ...OPTS, epochs: 1 }).net, { opset: 13 }));
    const out = execFileSync('/usr/bin/python3', ['-c', [
      'import onnx, sys',
      'm = onnx.load(sys.argv[1])',
      'onnx.checker.check_model(m, full_check=True)',
      'print(m.ir_version, m.opset_import[0].version, [n.op_type for n in m.graph.node], [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim])',
    ].join('\n'), file]).toString();
    assert.strictEqual(out.trim(), `8 13 ['Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm', 'Sigmoid'] ['N', ${spec.width}]`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('BAD CALL - export below opset 13 and mismatched widths are refused', () => {
  const net = createNetwork(spec.width, [], 1);
  assert.throws(() => exportOnnx(net, { opset: 12 }), /opset 12 < 13/);
  assert.throws(() => predict(net, toCsr(heldDense.subarray(0, 10), 1, 10)), /input width 10/);
  assert.throws(() => train(net, trainX, trainY.subarray(1), OPTS), /labels for/);
});

test('progress: a redrawn bar on a TTY, plain periodic lines otherwise', () => {
  const capture = (isTTY: boolean) => {
    const chunks: string[] = [];
    const stream = Object.assign(new Writable({ write(c, _e, cb) { chunks.push(c.toString()); cb(); } }), { isTTY });
    const bar = progressReporter('mlp', { stream, logEverySeconds: 3600 });
    train(createNetwork(spec.width, [8], 3), trainX, trainY, { ...OPTS, epochs: 2 }, bar.onProgress);
    bar.end();
    return chunks.join('');
  };
  const tty = capture(true);
  assert.match(tty, /^\r[█░]{24} mlp epoch 1\/2/);
  assert.match(tty, /\r█{24} mlp epoch 2\/2 100% [\d.]+[kM] rows\/s loss 0\.\d{4}\x1b\[K\n$/);
  const plain = capture(false);
  assert.ok(!plain.includes('\r'));
  assert.deepStrictEqual(plain.trim().split('\n').map((l) => l.replace(/ [\d.]+[kM] rows\/s loss 0\.\d+/, '')), ['mlp epoch 1/2 100% (epoch done)', 'mlp epoch 2/2 100% (epoch done)']);
});
