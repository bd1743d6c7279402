// The pipeline's choice of serving backend, on the shipped flights-delay MLP and real held-out
// February rows (onnxruntime in process is the independent reference), and on Silero VAD (real
// model, operators the native executor does not run) for every way native can be refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { chooseServingBackend, ServingBackendInput } from '../../../src/pipeline/serving-backend';
import { FLIGHTS_ONNX, februaryRows, flightsMissing } from '../native/flights-model';
import { VAD_ONNX } from '../native/real-data';

const ROWS = 2048;
const TOLERANCE = 1e-5;
const skip = flightsMissing();

async function flightsInput(modelDir: string): Promise<ServingBackendInput> {
  const data = await februaryRows(ROWS);
  const session = await ort.InferenceSession.create(FLIGHTS_ONNX, { intraOpNumThreads: 1 });
  const out = await session.run({ features: new ort.Tensor('float32', data.x.slice(0, data.rows * data.width), [data.rows, data.width]) });
  await session.release();
  return { requested: 'auto', onnx: new Uint8Array(fs.readFileSync(FLIGHTS_ONNX)), rows: data.x.slice(0, data.rows * data.width), count: data.rows, expected: out.probability.data as Float32Array, tolerance: TOLERANCE, modelDir };
}

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'infera-backend-'));
}

test('auto: an MLP the native executor runs within the tolerance of onnxruntime is served natively', { skip }, async () => {
  const dir = scratch();
  try {
    const c = chooseServingBackend(await flightsInput(path.join(dir, 'flights-delay')));
    assert.equal(c.backend, 'native', c.reason);
    assert.ok(c.native_max_abs_diff! <= TOLERANCE && c.native_max_abs_diff! >= 0, String(c.native_max_abs_diff));
    assert.match(c.reason, new RegExp(`on ${ROWS} held-out rows`));
    // A registered version that also compiles does not change that.
    fs.mkdirSync(path.join(dir, 'flights-delay', '1'), { recursive: true });
    fs.copyFileSync(FLIGHTS_ONNX, path.join(dir, 'flights-delay', '1', 'model.onnx'));
    assert.equal(chooseServingBackend(await flightsInput(path.join(dir, 'flights-delay'))).backend, 'native');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('auto: onnxruntime when the executor disagrees with the reference, or when an older version would not load natively', { skip }, async () => {
  const dir = scratch();
  try {
    const base = await flightsInput(path.join(dir, 'flights-delay'));
    // The reference shifted by 1e-4: the executor now "differs" by about that much.
    const shifted = Float32Array.from(base.expected as Float32Array, (p) => p + 1e-4);
    const off = chooseServingBackend({ ...base, expected: shifted });
    assert.equal(off.backend, 'onnxruntime');
    assert.match(off.reason, /differs from the trainer by (0\.0000[89]|0\.0001)\d* > 0\.00001 on 2048 rows/);
    // A NaN in the reference is a failure, not a pass (NaN > tolerance is false).
    const nan = Float32Array.from(base.expected as Float32Array);
    nan[7] = NaN;
    assert.equal(chooseServingBackend({ ...base, expected: nan }).backend, 'onnxruntime');
    // Version 1 of the name is a model the executor cannot compile: a rollback must load.
    fs.mkdirSync(path.join(dir, 'flights-delay', '1'), { recursive: true });
    fs.copyFileSync(VAD_ONNX, path.join(dir, 'flights-delay', '1', 'model.onnx'));
    const older = chooseServingBackend(base);
    assert.equal(older.backend, 'onnxruntime');
    assert.match(older.reason, /^version 1, already registered, does not compile for the native executor: .*unsupported operator/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a graph the executor cannot compile: onnxruntime under auto, an error when native is required, untouched when onnxruntime is', { skip }, async () => {
  const dir = scratch();
  try {
    const vad = { ...(await flightsInput(path.join(dir, 'vad'))), onnx: new Uint8Array(fs.readFileSync(VAD_ONNX)) };
    const auto = chooseServingBackend(vad);
    assert.equal(auto.backend, 'onnxruntime');
    assert.match(auto.reason, /^the native executor cannot run this model: .*unsupported operator/);
    assert.throws(() => chooseServingBackend({ ...vad, requested: 'native' }), /^Error: serving.backend 'native': the native executor cannot run this model/);
    assert.deepEqual(chooseServingBackend({ ...vad, requested: 'onnxruntime' }), { backend: 'onnxruntime', reason: 'requested in the pipeline file (serving.backend)' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
