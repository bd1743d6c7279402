import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CHUNK, ReferenceVad, inferBody, maxAbsDiff, speechChunks } from '../helpers/vad';
import { Running, getJson, postJson, startServer } from '../helpers/server';

/** Batched and single-row runs of the VAD's GEMMs accumulate in different orders (seen: 1.8e-5 on the state). */
const BATCH_TOLERANCE = 1e-4;

let srv: Running;
let ref: ReferenceVad;
let speech: Float32Array[];

before(async () => {
  srv = await startServer();
  ref = await ReferenceVad.create();
  speech = speechChunks();
});

after(async () => {
  await srv.server.stop();
  await ref.release();
});

test('GET /v2 lists the implemented extensions; health is live and ready', async (t) => {
  const meta = await getJson(`${srv.url}/v2`);
  assert.strictEqual(meta.status, 200);
  assert.strictEqual(meta.json.name, 'infera');
  assert.deepStrictEqual(meta.json.extensions, ['binary_tensor_data', 'model_repository', 'statistics']);
  assert.strictEqual((await fetch(`${srv.url}/v2/health/live`)).status, 200);
  assert.strictEqual((await fetch(`${srv.url}/v2/health/ready`)).status, 200);
  assert.strictEqual((await fetch(`${srv.url}/v2/models/vad/ready`)).status, 200);
  assert.strictEqual((await fetch(`${srv.url}/v2/models/vad/versions/1/ready`)).status, 200);
});

test('model metadata comes from model.json and matches the ONNX file', async (t) => {
  const m = await getJson(`${srv.url}/v2/models/vad`);
  assert.strictEqual(m.status, 200);
  assert.deepStrictEqual(m.json.versions, ['1']);
  assert.strictEqual(m.json.platform, 'onnxruntime_onnx');
  assert.deepStrictEqual(m.json.inputs.map((i: any) => [i.name, i.datatype, i.shape]), [
    ['input', 'FP32', [-1, -1]], ['sr', 'INT64', []], ['h', 'FP32', [2, -1, 64]], ['c', 'FP32', [2, -1, 64]],
  ]);
  const v = await getJson(`${srv.url}/v2/models/vad/versions/1`);
  assert.deepStrictEqual(v.json.versions, ['1']);
});

test('streaming real speech chunk by chunk with state through HTTP equals in-process onnxruntime', async (t) => {
  let h: Float32Array = new Float32Array(128), c: Float32Array = new Float32Array(128);
  let rh: Float32Array = new Float32Array(128), rc: Float32Array = new Float32Array(128);
  let worst = 0;
  const probs: number[] = [];
  for (let k = 0; k < speech.length; k++) {
    const r = await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(speech[k], h, c, `chunk-${k}`));
    assert.strictEqual(r.status, 200, JSON.stringify(r.json));
    assert.strictEqual(r.json.id, `chunk-${k}`);
    assert.strictEqual(r.json.model_name, 'vad');
    assert.strictEqual(r.json.model_version, '1');
    const out = Object.fromEntries(r.json.outputs.map((o: any) => [o.name, o]));
    assert.deepStrictEqual(out.output.shape, [1, 1]);
    assert.deepStrictEqual(out.hn.shape, [2, 1, 64]);
    const e = await ref.run(speech[k], rh, rc);
    worst = Math.max(worst, maxAbsDiff(out.output.data, e.output), maxAbsDiff(out.hn.data, e.hn));
    probs.push(out.output.data[0]);
    h = Float32Array.from(out.hn.data); c = Float32Array.from(out.cn.data);
    rh = e.hn; rc = e.cn;
  }
  assert.ok(worst <= 1e-6, `max abs diff ${worst}`);
  // The recording is one spoken sentence: the detector must see speech somewhere, and silence somewhere.
  assert.ok(Math.max(...probs) > 0.8 && Math.min(...probs) < 0.2, `probabilities ${probs.map((p) => p.toFixed(2))}`);
});

test('concurrent requests run as one batch and each gets exactly its own rows', async (t) => {
  const n = 24;
  const mv = srv.server.repository.resolve('vad');
  const before = mv.stats.batches.get(n)?.count ?? 0;
  mv.holdUntil(n);
  const chunksUsed = speech.slice(0, n);
  const responses = await Promise.all(chunksUsed.map((ch, k) => postJson(`${srv.url}/v2/models/vad/infer`, inferBody(ch, undefined, undefined, `r${k}`))));
  assert.strictEqual(mv.stats.batches.get(n)?.count ?? 0, before + 1, 'the held requests ran as a single batch of 24');
  // Exactly its own rows: equal to the same batch run in process, sliced here by a different method.
  const batched = await ref.runBatch(chunksUsed);
  for (let k = 0; k < n; k++) {
    const r = responses[k];
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.json.id, `r${k}`);
    const out = Object.fromEntries(r.json.outputs.map((o: any) => [o.name, o.data]));
    const b = batched[k];
    assert.ok(maxAbsDiff(out.output, b.output) === 0 && maxAbsDiff(out.hn, b.hn) === 0 && maxAbsDiff(out.cn, b.cn) === 0, `request ${k}: not the rows of its own chunk`);
    // And equal to an unbatched run up to the accumulation order of batched GEMMs.
    const e = await ref.run(chunksUsed[k]);
    const d = Math.max(maxAbsDiff(out.output, e.output), maxAbsDiff(out.hn, e.hn), maxAbsDiff(out.cn, e.cn));
    assert.ok(d <= BATCH_TOLERANCE, `request ${k}: differs from the unbatched run by ${d}`);
  }
});

test('a request of several rows is batched with others and sliced back by rows', async (t) => {
  const mv = srv.server.repository.resolve('vad');
  mv.holdUntil(2);
  const three = {
    inputs: [
      { name: 'input', shape: [3, CHUNK], datatype: 'FP32', data: [[...speech[30]], [...speech[31]], [...speech[32]]] },
      { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
      { name: 'h', shape: [2, 3, 64], datatype: 'FP32', data: new Array(384).fill(0) },
      { name: 'c', shape: [2, 3, 64], datatype: 'FP32', data: new Array(384).fill(0) },
    ],
    outputs: [{ name: 'output' }],
  };
  const [a, b] = await Promise.all([postJson(`${srv.url}/v2/models/vad/infer`, three), postJson(`${srv.url}/v2/models/vad/infer`, inferBody(speech[33]))]);
  assert.strictEqual(a.status, 200);
  assert.deepStrictEqual(a.json.outputs.map((o: any) => o.name), ['output'], 'output selection returns only what was asked');
  assert.deepStrictEqual(a.json.outputs[0].shape, [3, 1]);
  for (let k = 0; k < 3; k++) {
    const e = await ref.run(speech[30 + k]);
    assert.ok(Math.abs(a.json.outputs[0].data[k] - e.output[0]) <= BATCH_TOLERANCE, `row ${k}`);
  }
  const e33 = await ref.run(speech[33]);
  assert.ok(Math.abs(b.json.outputs.find((o: any) => o.name === 'output').data[0] - e33.output[0]) <= BATCH_TOLERANCE);
});

test('binary tensor extension: binary inputs in, binary outputs out, equal to the JSON path', async (t) => {
  const chunk = speech[20];
  const header = JSON.stringify({
    inputs: [
      { name: 'input', shape: [1, CHUNK], datatype: 'FP32', parameters: { binary_data_size: CHUNK * 4 } },
      { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
      { name: 'h', shape: [2, 1, 64], datatype: 'FP32', parameters: { binary_data_size: 512 } },
      { name: 'c', shape: [2, 1, 64], datatype: 'FP32', parameters: { binary_data_size: 512 } },
    ],
    outputs: [{ name: 'output', parameters: { binary_data: true } }, { name: 'hn' }],
  });
  const zeros = Buffer.alloc(512);
  const body = Buffer.concat([Buffer.from(header), Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), zeros, zeros]);
  const res = await fetch(`${srv.url}/v2/models/vad/infer`, { method: 'POST', body, headers: { 'Inference-Header-Content-Length': String(Buffer.byteLength(header)), 'Content-Type': 'application/octet-stream' } });
  assert.strictEqual(res.status, 200);
  const len = Number(res.headers.get('inference-header-content-length'));
  const raw = Buffer.from(await res.arrayBuffer());
  const head = JSON.parse(raw.subarray(0, len).toString());
  const outMeta = head.outputs.find((o: any) => o.name === 'output');
  assert.deepStrictEqual(outMeta.parameters, { binary_data_size: 4 });
  const prob = raw.subarray(len, len + 4).readFloatLE(0);
  const e = await ref.run(chunk);
  assert.ok(Math.abs(prob - e.output[0]) <= 1e-6, `${prob} vs ${e.output[0]}`);
  assert.ok(maxAbsDiff(head.outputs.find((o: any) => o.name === 'hn').data, e.hn) <= 1e-6, 'JSON output beside a binary one');
});

test('binary tensor extension: the binary section may start at any byte offset, and the body may come chunked', async () => {
  // The server places a body so that its binary section is 8-byte aligned (tensors are
  // then views of the body): pad the JSON header by 0..7 spaces to hit every residue, and
  // send one body with Transfer-Encoding: chunked (no Content-Length: the other read path).
  const chunk = speech[41];
  const e = await ref.run(chunk);
  const zeros = Buffer.alloc(512);
  const probs: number[] = [];
  for (let pad = 0; pad < 9; pad++) {
    const header =
      JSON.stringify({
        inputs: [
          { name: 'input', shape: [1, CHUNK], datatype: 'FP32', parameters: { binary_data_size: CHUNK * 4 } },
          { name: 'sr', shape: [], datatype: 'INT64', parameters: { binary_data_size: 8 } },
          { name: 'h', shape: [2, 1, 64], datatype: 'FP32', parameters: { binary_data_size: 512 } },
          { name: 'c', shape: [2, 1, 64], datatype: 'FP32', parameters: { binary_data_size: 512 } },
        ],
        outputs: [{ name: 'output' }],
      }) + ' '.repeat(pad % 8);
    const sr = Buffer.alloc(8);
    sr.writeBigInt64LE(16000n);
    const body = Buffer.concat([Buffer.from(header), Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), sr, zeros, zeros]);
    const chunked = pad === 8;
    const init: RequestInit & { duplex?: 'half' } = chunked
      ? {
          method: 'POST',
          duplex: 'half',
          body: new ReadableStream({
            start(c) {
              for (let off = 0; off < body.length; off += 1000) c.enqueue(body.subarray(off, off + 1000));
              c.close();
            },
          }),
        }
      : { method: 'POST', body };
    const res = await fetch(`${srv.url}/v2/models/vad/infer`, { ...init, headers: { 'Inference-Header-Content-Length': String(Buffer.byteLength(header)), 'Content-Type': 'application/octet-stream' } });
    const json = (await res.json()) as any;
    assert.strictEqual(res.status, 200, JSON.stringify(json));
    probs.push(json.outputs[0].data[0]);
  }
  for (const p of probs) assert.ok(Math.abs(p - e.output[0]) <= 1e-6, `${p} vs ${e.output[0]}`);
});

test('statistics extension counts inferences and batches', async (t) => {
  const s = await getJson(`${srv.url}/v2/models/vad/stats`);
  assert.strictEqual(s.status, 200);
  const st = s.json.model_stats[0];
  assert.strictEqual(st.name, 'vad');
  assert.ok(st.inference_count >= speech.length + 24);
  assert.ok(st.batch_stats.some((b: any) => b.batch_size === 24));
  assert.ok(st.inference_stats.success.count > 0);
});

test('POST /predict maps features through model.json and answers in the Python-server shape', async (t) => {
  const chunk = speech[25];
  const r = await postJson(`${srv.url}/predict`, { model: 'vad', features: { samples: Array.from(chunk) } });
  assert.strictEqual(r.status, 200, JSON.stringify(r.json));
  const e = await ref.run(chunk);
  const p = e.output[0];
  assert.strictEqual(r.json.prediction, p >= 0.5 ? 'speech' : 'silence');
  assert.ok(Math.abs(r.json.confidence - (p >= 0.5 ? p : 1 - p)) <= 1e-6);
  assert.strictEqual(r.json.model_version, '1');
  assert.strictEqual(r.json.from_cache, false);
  assert.strictEqual(typeof r.json.processing_time_ms, 'number');
  const again = await postJson(`${srv.url}/predict`, { features: { samples: Array.from(chunk) }, model: 'vad', model_version: 1 });
  assert.strictEqual(again.json.from_cache, true);
  assert.strictEqual(again.json.confidence, r.json.confidence);
  const missing = await postJson(`${srv.url}/predict`, { model: 'vad', features: {} });
  assert.strictEqual(missing.status, 400);
  assert.match(missing.json.error, /missing feature 'samples'/);
});

test('GET /health and GET /models describe what is served', async (t) => {
  const h = await getJson(`${srv.url}/health`);
  assert.strictEqual(h.status, 200);
  assert.strictEqual(h.json.models.vad, 'READY');
  const m = await getJson(`${srv.url}/models`);
  const vad = m.json.models.find((x: any) => x.name === 'vad');
  assert.deepStrictEqual(vad.predict, { features: ['samples'], task: 'binary' });
  assert.deepStrictEqual(vad.versions, [{ version: '1', state: 'READY' }]);
});
