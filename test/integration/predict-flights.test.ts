import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
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

test('/predict is counted as OIP infer is: requests by outcome, queue wait, in flight back to 0', async () => {
  const metric = async (re: RegExp) => {
    const m = (await (await fetch(`${srv.url}/metrics`)).text()).match(re);
    return m ? Number(m[1]) : 0;
  };
  const success = /infera_inference_requests_total\{model="flights-delay",version="1",outcome="success"\} (\d+)/;
  const clientError = /infera_inference_requests_total\{model="flights-delay",version="1",outcome="client_error"\} (\d+)/;
  const queued = /infera_queue_duration_seconds_count\{model="flights-delay",version="1"\} (\d+)/;
  const [s0, c0, q0] = [await metric(success), await metric(clientError), await metric(queued)];
  // Distinct rows (no cache hits): each runs through the batcher once.
  const ok = await Promise.all(Array.from({ length: 5 }, (_, i) => postJson(`${srv.url}/predict`, { model: 'flights-delay', features: { ...featuresOf(i), distance: 4321 + i } })));
  ok.forEach((r) => assert.equal(r.status, 200));
  const bad = await postJson(`${srv.url}/predict`, { model: 'flights-delay', features: { ...featuresOf(0), distance: 'far' } });
  assert.equal(bad.status, 400);
  assert.equal(await metric(success), s0 + 5);
  assert.equal(await metric(clientError), c0 + 1);
  assert.equal(await metric(queued), q0 + 5);
  assert.equal(await metric(/infera_pending_requests\{model="flights-delay",version="1"\} (\d+)/), 0);
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

test('POST /predict with instances: every row answered in order, equal to in-process onnxruntime; ids kept; chunks past max_batch_size', async () => {
  const instances = Array.from({ length: rows.rows }, (_, i) => featuresOf(i));
  const ids = instances.map((_, i) => `feb10-${i}`);
  const r = await postJson(`${srv.url}/predict`, { model: 'flights-delay', instances, ids });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.model, 'flights-delay');
  assert.equal(r.json.predictions.length, rows.rows);
  r.json.predictions.forEach((q: { id: string; probabilities: number[]; prediction: string }, i: number) => {
    assert.equal(q.id, ids[i]);
    assert.ok(Math.abs(q.probabilities[1] - expected[i]) <= TOLERANCE, `row ${i}: ${q.probabilities[1]} vs ${expected[i]}`);
    assert.equal(q.prediction, q.probabilities[1] >= 0.23983268439769745 ? 'delayed' : 'on_time');
  });
  // 40 rows × 20 = 800 rows: more than max_batch_size (256), split and reassembled in order.
  const many = Array.from({ length: 20 }, () => instances).flat();
  const big = await postJson(`${srv.url}/predict`, { model: 'flights-delay', instances: many });
  assert.equal(big.status, 200, JSON.stringify(big.json).slice(0, 300));
  assert.equal(big.json.predictions.length, many.length);
  big.json.predictions.forEach((q: { probabilities: number[] }, i: number) => assert.ok(Math.abs(q.probabilities[1] - expected[i % rows.rows]) <= TOLERANCE, `row ${i}`));
  assert.equal(new Set(big.json.predictions.map((q: { id: string }) => q.id)).size, many.length, 'a new id per row');
});

test('BAD CALL - instances: a bad row is named, nothing is answered for the others', async () => {
  const good = featuresOf(2);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ instances: [good, { ...good, distance: 'far' }] }, /field 'distance' \(row 1\)/],
    [{ instances: [good, { ...good, wheels: 3 }] }, /field 'wheels' \(row 1\): unknown/],
    [{ instances: [good, 7] }, /instances\[1\] must be an object/],
    [{ instances: [] }, /'instances' must be a non-empty list/],
    [{ instances: [good], features: good }, /not both or neither/],
    [{}, /send 'features'/],
    [{ instances: [good, good], ids: ['a'] }, /'ids' must be a list of 2 non-empty strings/],
    [{ features: good, id: 5 }, /'id' must be a non-empty string/],
  ];
  for (const [body, re] of cases) {
    const r = await postJson(`${srv.url}/predict`, { model: 'flights-delay', ...body });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.code, 'ENG_ERR_BAD_REQUEST');
    assert.match(r.json.error, re);
  }
});

test('a configured default model serves /predict requests that name none; without one the error lists the candidates', async () => {
  const r = await postJson(`${srv.url}/predict`, { features: featuresOf(3) });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /'model' must be one of 'flights-delay', 'vad' \(or start the server with --default-model\)/);
  const withDefault = await startServer({ defaultPredictModel: 'flights-delay' });
  try {
    const d = await postJson(`${withDefault.url}/predict`, { instances: [featuresOf(3), featuresOf(4)] });
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.equal(d.json.model, 'flights-delay');
    assert.ok(Math.abs(d.json.predictions[1].probabilities[1] - expected[4]) <= TOLERANCE);
  } finally {
    await withDefault.server.stop();
  }
});

test('a numeric feature far outside the training range is flagged and counted (or refused with out_of_range "reject")', async () => {
  const card = JSON.parse(fs.readFileSync(path.join(VERSION_DIR, 'card.json'), 'utf8'));
  const edges: number[] = card.profile.numeric.distance.edges;
  const [min, max] = [edges[0], edges[edges.length - 1]];
  const count = async (url: string) => Number((await (await fetch(`${url}/metrics`)).text()).match(/infera_out_of_range_features_total\{model="flights-delay",version="1",feature="distance"\} (\d+)/)?.[1] ?? 0);
  const before = await count(srv.url);
  const far = await postJson(`${srv.url}/predict`, { model: 'flights-delay', features: { ...featuresOf(5), distance: -5 } });
  assert.equal(far.status, 200);
  assert.deepEqual(far.json.warnings, [`distance -5 is outside the training range [${min}, ${max}]`]);
  const edge = await postJson(`${srv.url}/predict`, { model: 'flights-delay', features: { ...featuresOf(5), distance: max } });
  assert.equal(edge.json.warnings, undefined, 'the training maximum itself is in range');
  const batch = await postJson(`${srv.url}/predict`, { model: 'flights-delay', instances: [featuresOf(5), { ...featuresOf(6), distance: 99999 }] });
  assert.deepEqual(batch.json.warnings, [`row 1: distance 99999 is outside the training range [${min}, ${max}]`]);
  assert.equal(await count(srv.url), before + 2);

  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-range-'));
  fs.cpSync(path.join(MODELS, 'flights-delay'), path.join(repo, 'flights-delay'), { recursive: true });
  const cfgFile = path.join(repo, 'flights-delay/model.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  cfg.predict.out_of_range = 'reject';
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const strict = await startServer({ repository: repo });
  try {
    const r = await postJson(`${strict.url}/predict`, { features: { ...featuresOf(5), distance: -5 } });
    assert.equal(r.status, 400);
    assert.match(r.json.error, /distance -5 is outside the training range \[\d+, \d+\] \(model\.json predict\.out_of_range is 'reject'\)/);
  } finally {
    await strict.server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
