import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadFeatureSpec, transform } from '../../src/features';
import { formatNaive } from '../../src/features/time';
import { FlightRows, columnsOf, loadFlights } from '../unit/features/flights-data';
import { MODELS, Running, postJson, startServer } from '../helpers/server';
import { maxAbsDiff } from '../helpers/vad';

const VERSION_DIR = path.join(MODELS, 'flights-delay/1');
/** A batch of rows and a single row run through different GEMM paths; seen ≤ 1e-7. */
const TOLERANCE = 1e-5;

let srv: Running;
let rows: FlightRows;
let expected: Float32Array;
let tensor: Float32Array;
let width: number;

before(async () => {
  srv = await startServer();
  // Real February flights: the model's "future".
  rows = await loadFlights({ from: '2001-02-10', to: '2001-02-11' }, 40);
  const spec = loadFeatureSpec(path.join(VERSION_DIR, 'feature_spec.json'));
  const t = transform(spec, columnsOf(rows));
  tensor = t.data;
  width = t.width;
  const session = await ort.InferenceSession.create(path.join(VERSION_DIR, 'model.onnx'));
  const out = await session.run({ features: new ort.Tensor('float32', tensor, [rows.rows, width]) });
  expected = out.probability.data as Float32Array;
  await session.release();
});

after(async () => {
  await srv.server.stop();
});

const featuresOf = (i: number) => ({ date: formatNaive(rows.date[i]), distance: rows.distance[i], origin: rows.origin[i], destination: rows.destination[i] });

test('POST /predict runs the saved feature spec: equal to the trainer transform + in-process onnxruntime', async () => {
  const answers = await Promise.all(Array.from({ length: rows.rows }, (_, i) => postJson(`${srv.url}/predict`, { model: 'flights-delay', features: featuresOf(i) })));
  answers.forEach((r, i) => {
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.model_version, '1');
    const p = r.json.probabilities[1];
    assert.ok(Math.abs(p - expected[i]) <= TOLERANCE, `row ${i}: ${p} vs ${expected[i]}`);
    assert.equal(r.json.prediction, p >= 0.23983268439769745 ? 'delayed' : 'on_time');
  });
});

test('OIP v2 binary infer on the prepared tensor equals in-process onnxruntime', async () => {
  const header = JSON.stringify({ inputs: [{ name: 'features', shape: [rows.rows, width], datatype: 'FP32', parameters: { binary_data_size: tensor.byteLength } }], parameters: { binary_data_output: true } });
  const body = Buffer.concat([Buffer.from(header), Buffer.from(tensor.buffer, tensor.byteOffset, tensor.byteLength)]);
  const res = await fetch(`${srv.url}/v2/models/flights-delay/infer`, { method: 'POST', body, headers: { 'Inference-Header-Content-Length': String(Buffer.byteLength(header)) } });
  assert.equal(res.status, 200);
  const len = Number(res.headers.get('inference-header-content-length'));
  const raw = Buffer.from(await res.arrayBuffer());
  const out = new Float32Array(raw.buffer.slice(raw.byteOffset + len, raw.byteOffset + raw.byteLength));
  assert.equal(out.length, rows.rows);
  assert.ok(maxAbsDiff(out, expected) <= TOLERANCE);
});

test('an unknown airport goes to the unknown bucket and is counted in a metric', async () => {
  const count = async () => {
    const m = (await (await fetch(`${srv.url}/metrics`)).text()).match(/infera_unknown_categories_total\{model="flights-delay",version="1"\} (\d+)/);
    return m ? Number(m[1]) : 0;
  };
  const features = { ...featuresOf(0), origin: 'ZZZ' };
  const spec = loadFeatureSpec(path.join(VERSION_DIR, 'feature_spec.json'));
  const unknownHere = transform(spec, { date: [rows.date[0]], distance: [rows.distance[0]], origin: ['ZZZ'], destination: [rows.destination[0]] }).unknownCategories;
  assert.ok(unknownHere >= 1);
  const before = await count();
  const r = await postJson(`${srv.url}/predict`, { model: 'flights-delay', features });
  assert.equal(r.status, 200);
  assert.equal(await count(), before + unknownHere);
});

test('BAD CALL - missing or invalid fields → 400 naming the field', async () => {
  const { date: _, ...noDate } = featuresOf(1);
  const cases: [Record<string, unknown>, RegExp][] = [
    [noDate, /field 'date': missing/],
    [{ ...featuresOf(1), distance: 'far' }, /field 'distance'/],
    [{ ...featuresOf(1), date: '2001-13-45T99:00:00' }, /field 'date'/],
    [{ ...featuresOf(1), wheels: 3 }, /field 'wheels': unknown/],
  ];
  for (const [features, re] of cases) {
    const r = await postJson(`${srv.url}/predict`, { model: 'flights-delay', features });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(r.json.error, re);
  }
});
