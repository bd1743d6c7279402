import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadFeatureSpec, transform } from '../../src/features';
import { columnsOf, loadFlights } from '../unit/features/flights-data';
import { MODELS, postJson, startServer } from '../helpers/server';
import { maxAbsDiff } from '../helpers/vad';

test('model.json backend "native" serves flights-delay through the addon executor, equal to onnxruntime', async () => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-native-'));
  const src = path.join(MODELS, 'flights-delay');
  fs.mkdirSync(path.join(repo, 'flights-delay/1'), { recursive: true });
  for (const f of ['model.onnx', 'feature_spec.json', 'card.json']) fs.copyFileSync(path.join(src, '1', f), path.join(repo, 'flights-delay/1', f));
  const cfg = JSON.parse(fs.readFileSync(path.join(src, 'model.json'), 'utf8'));
  cfg.backend = 'native';
  cfg.precision = 'fp32';
  fs.writeFileSync(path.join(repo, 'flights-delay/model.json'), JSON.stringify(cfg));
  const srv = await startServer({ repository: repo });
  try {
    const rows = await loadFlights({ from: '2001-03-05', to: '2001-03-06' }, 32);
    const t = transform(loadFeatureSpec(path.join(src, '1/feature_spec.json')), columnsOf(rows));
    const session = await ort.InferenceSession.create(path.join(src, '1/model.onnx'));
    const expected = (await session.run({ features: new ort.Tensor('float32', t.data, [rows.rows, t.width]) })).probability.data as Float32Array;
    await session.release();
    const header = JSON.stringify({ inputs: [{ name: 'features', shape: [rows.rows, t.width], datatype: 'FP32', parameters: { binary_data_size: t.data.byteLength } }], parameters: { binary_data_output: true } });
    const body = Buffer.concat([Buffer.from(header), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]);
    const res = await fetch(`${srv.url}/v2/models/flights-delay/infer`, { method: 'POST', body, headers: { 'Inference-Header-Content-Length': String(Buffer.byteLength(header)) } });
    assert.equal(res.status, 200);
    const len = Number(res.headers.get('inference-header-content-length'));
    const raw = Buffer.from(await res.arrayBuffer());
    const out = new Float32Array(raw.buffer.slice(raw.byteOffset + len, raw.byteOffset + raw.byteLength));
    assert.ok(maxAbsDiff(out, expected) <= 1e-5, `max abs diff ${maxAbsDiff(out, expected)}`);
  } finally {
    await srv.server.stop();
    fs.rmSync(repo, { recursive: true });
  }
});

test('BAD CALL - a model the native executor cannot run is UNAVAILABLE naming the operator; others serve', async () => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-native-'));
  fs.mkdirSync(path.join(repo, 'vad/1'), { recursive: true });
  fs.copyFileSync(path.join(MODELS, 'vad/1/model.onnx'), path.join(repo, 'vad/1/model.onnx'));
  const cfg = JSON.parse(fs.readFileSync(path.join(MODELS, 'vad/model.json'), 'utf8'));
  cfg.backend = 'native';
  fs.writeFileSync(path.join(repo, 'vad/model.json'), JSON.stringify(cfg));
  const srv = await startServer({ repository: repo });
  try {
    const index = await postJson(`${srv.url}/v2/repository/index`, {});
    const vad = index.json.find((e: any) => e.name === 'vad');
    assert.equal(vad.state, 'UNAVAILABLE');
    assert.match(vad.reason, /unsupported operators? .*If/);
  } finally {
    await srv.server.stop();
    fs.rmSync(repo, { recursive: true });
  }
});
