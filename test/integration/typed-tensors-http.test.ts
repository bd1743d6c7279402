// BYTES and FP16 end to end over REST (issue 15): the airports string lookup and the FP16
// flights-delay of scripts/build-typed-models.ts, served from a scratch repository.
// References: the fitted vocabulary read from feature_spec.json (airports), and the FP16
// model run by onnxruntime-node in this process on the same half bits (flights-delay-fp16).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildTypedModels } from '../../scripts/build-typed-models';
import { halfBits, halfValue } from '../../src/protocol/half';
import { FLIGHTS_DIR, februaryRows, flightsMissing } from '../unit/native/flights-model';
import { Running, postJson, startServer } from '../helpers/server';
import { lengthPrefixed } from '../helpers/bytes-tensor';

const skip = flightsMissing();
let dir: string;
let running: Running;
let vocabulary: string[];

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-typed-http-'));
  buildTypedModels(dir);
  // A queue delay, so that concurrent string requests are batched together (concat and split).
  const cfgFile = path.join(dir, 'airports/model.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, batching: { max_queue_delay_ms: 20 } }));
  const spec = JSON.parse(fs.readFileSync(path.join(FLIGHTS_DIR, 'feature_spec.json'), 'utf8'));
  vocabulary = spec.blocks.find((b: { kind: string; input: string }) => b.kind === 'categorical' && b.input === 'origin').vocabulary;
  running = await startServer({ repository: dir });
});

after(async () => {
  await running?.server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function postBinary(url: string, header: object, blob: Uint8Array): Promise<{ status: number; header: any; blob: Buffer }> {
  const json = Buffer.from(JSON.stringify(header));
  const res = await fetch(url, { method: 'POST', body: Buffer.concat([json, blob]), headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(json.byteLength) } });
  const body = Buffer.from(await res.arrayBuffer());
  const n = Number(res.headers.get('inference-header-content-length') ?? body.byteLength);
  return { status: res.status, header: JSON.parse(body.subarray(0, n).toString()), blob: body.subarray(n) };
}

test('airports: real origin codes as JSON and binary BYTES, batched together, map to their vocabulary index and back', { skip }, async () => {
  const rows = await februaryRows(400);
  const codes = (rows.columns.origin as string[]).slice(0, 120);
  // 40 concurrent requests of 1-5 rows, alternating JSON and binary, answered from shared batches.
  const requests = [];
  for (let i = 0, k = 0; k < codes.length; i++) {
    const part = codes.slice(k, k + 1 + (i % 5));
    k += part.length;
    const shape = [part.length, 1];
    if (i % 2 === 0) {
      requests.push(postJson(`${running.url}/v2/models/airports/infer`, { inputs: [{ name: 'code', datatype: 'BYTES', shape, data: part.map((c) => [c]) }] }).then((r) => {
        assert.equal(r.status, 200, JSON.stringify(r.json));
        return { part, index: r.json.outputs[0].data as number[], out: r.json.outputs[1].data as string[] };
      }));
    } else {
      const blob = lengthPrefixed(part);
      requests.push(postBinary(`${running.url}/v2/models/airports/infer`, { inputs: [{ name: 'code', datatype: 'BYTES', shape, parameters: { binary_data_size: blob.byteLength } }], parameters: { binary_data_output: true } }, blob).then((r) => {
        assert.equal(r.status, 200, JSON.stringify(r.header));
        const [idx, out] = r.header.outputs;
        assert.equal(idx.datatype, 'INT64');
        assert.equal(out.datatype, 'BYTES');
        const index = Array.from(new BigInt64Array(r.blob.buffer.slice(r.blob.byteOffset, r.blob.byteOffset + idx.parameters.binary_data_size)), Number);
        const strings: string[] = [];
        const s = r.blob.subarray(idx.parameters.binary_data_size);
        for (let o = 0; o < s.byteLength;) {
          const n = s.readUInt32LE(o);
          strings.push(s.subarray(o + 4, o + 4 + n).toString());
          o += 4 + n;
        }
        return { part, index, out: strings };
      }));
    }
  }
  const answers = await Promise.all(requests);
  for (const a of answers) {
    assert.deepEqual(a.index, a.part.map((c) => vocabulary.indexOf(c)));
    assert.deepEqual(a.out, a.part.map((c) => (vocabulary.includes(c) ? c : 'UNKNOWN')));
  }
  assert.equal(answers.reduce((n, a) => n + a.part.length, 0), codes.length);
  const stats = ((await (await fetch(`${running.url}/v2/models/airports/stats`)).json()) as { model_stats: { execution_count: number }[] }).model_stats[0];
  assert.ok(stats.execution_count < answers.length, `${answers.length} requests ran in ${stats.execution_count} batches: some were batched together`);
});

test('airports: malformed BYTES are 400s that name the problem, and the server goes on', { skip }, async () => {
  const url = `${running.url}/v2/models/airports/infer`;
  const good = lengthPrefixed(['ORD', 'LAX']);
  const cases: [string, Uint8Array, number[], RegExp][] = [
    ['count mismatch', good, [3, 1], /holds 3 BYTES elements, got 2/],
    ['length past the end', Buffer.concat([good.subarray(0, 4), Buffer.from('OR')]), [1, 1], /element 0 is 3 bytes long but only 2 remain/],
    ['invalid UTF-8', lengthPrefixed(['ORD']).fill(0xff, 4), [1, 1], /element 0 is not valid UTF-8/],
  ];
  for (const [what, blob, shape, msg] of cases) {
    const r = await postBinary(url, { inputs: [{ name: 'code', datatype: 'BYTES', shape, parameters: { binary_data_size: blob.byteLength } }] }, blob);
    assert.equal(r.status, 400, what);
    assert.equal(r.header.code, 'ENG_ERR_BAD_TENSOR', what);
    assert.match(r.header.error, msg, what);
  }
  const wrongType = await postJson(url, { inputs: [{ name: 'code', datatype: 'FP32', shape: [1, 1], data: [1] }] });
  assert.equal(wrongType.status, 400);
  assert.match(wrongType.json.error, /datatype FP32, expected BYTES/);
  const ok = await postJson(url, { inputs: [{ name: 'code', datatype: 'BYTES', shape: [1, 1], data: ['ORD'] }] });
  assert.equal(ok.status, 200);
});

test('flights-delay-fp16: real February rows as JSON numbers and as raw halves give onnxruntime in process bit for bit', { skip }, async () => {
  const rows = await februaryRows(64);
  const n = 16;
  const halves = new Uint16Array(n * rows.width);
  for (let i = 0; i < halves.length; i++) halves[i] = halfBits(rows.x[i])!;
  const session = await ort.InferenceSession.create(path.join(dir, 'flights-delay-fp16/1/model.onnx'));
  const ref = await session.run({ features: new ort.Tensor('float16', halves, [n, rows.width]) });
  const refBits = new Uint16Array((ref.probability.data as Uint16Array).buffer.slice(0));
  await session.release();

  const url = `${running.url}/v2/models/flights-delay-fp16/infer`;
  // JSON: the FP32 features as numbers; the server rounds them to the same halves.
  const j = await postJson(url, { inputs: [{ name: 'features', datatype: 'FP16', shape: [n, rows.width], data: Array.from(rows.x.subarray(0, n * rows.width)) }] });
  assert.equal(j.status, 200, JSON.stringify(j.json));
  assert.equal(j.json.outputs[0].datatype, 'FP16');
  assert.deepEqual(j.json.outputs[0].data, Array.from(refBits, halfValue));
  // Binary: raw halves in, raw halves out.
  const raw = Buffer.from(halves.buffer);
  const b = await postBinary(url, { inputs: [{ name: 'features', datatype: 'FP16', shape: [n, rows.width], parameters: { binary_data_size: raw.byteLength } }], parameters: { binary_data_output: true } }, raw);
  assert.equal(b.status, 200, JSON.stringify(b.header));
  assert.deepEqual(Array.from(new Uint16Array(b.blob.buffer.slice(b.blob.byteOffset, b.blob.byteOffset + b.blob.byteLength))), Array.from(refBits));
  assert.ok(Array.from(refBits, halfValue).every((p) => p > 0 && p < 1), 'probabilities in (0, 1)');
});
