import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CHUNK, inferBody, speechChunks } from '../helpers/vad';
import { Running, postJson, startServer } from '../helpers/server';

let srv: Running;
let chunk: Float32Array;

before(async () => {
  srv = await startServer({ maxBodyBytes: 256 * 1024 });
  chunk = speechChunks()[10];
});

after(async () => {
  await srv.server.stop();
});

const infer = (body: unknown, path = '/v2/models/vad/infer', headers: Record<string, string> = {}) => postJson(`${srv.url}${path}`, body, headers);

/** After every bad request the server must still answer a good one. */
async function stillServing() {
  const ok = await infer(inferBody(chunk));
  assert.strictEqual(ok.status, 200);
}

function withInput(name: string, patch: Record<string, unknown>) {
  const b = inferBody(chunk);
  b.inputs = b.inputs.map((i) => (i.name === name ? { ...i, ...patch } : i)) as typeof b.inputs;
  return b;
}

const cases: [string, () => Promise<{ status: number; json: any }>, number, RegExp][] = [
  ['malformed JSON', () => infer('{"inputs": [ {"name": "input", '), 400, /malformed JSON/],
  ['body is not an object', () => infer('[1,2,3]'), 400, /JSON object/],
  ['wrong datatype', () => infer(withInput('input', { datatype: 'INT32' })), 400, /input 'input': datatype INT32, expected FP32/],
  ['unknown datatype', () => infer(withInput('input', { datatype: 'FLOAT' })), 400, /input 'input': unknown datatype "FLOAT"/],
  ['shape/data mismatch', () => infer(withInput('input', { shape: [1, 1000] })), 400, /input 'input': shape \[1,1000\] needs 1000 elements, data has 1536/],
  ['negative dimension', () => infer(withInput('input', { shape: [-1, CHUNK] })), 400, /input 'input': shape \[-1,1536\] has a negative dimension/],
  ['fixed dim mismatch', () => infer(withInput('h', { shape: [2, 2, 32] })), 400, /input 'h': shape \[2,2,32\] does not match expected shape \[2,-1,64\]/],
  ['inconsistent batch sizes', () => infer(withInput('h', { shape: [2, 2, 64], data: new Array(256).fill(0) })), 400, /batch size 2 differs from 1/],
  ['missing input', () => { const b = inferBody(chunk); b.inputs.pop(); return infer(b); }, 400, /missing input 'c'/],
  ['unknown input', () => { const b = inferBody(chunk); b.inputs.push({ name: 'x', shape: [1], datatype: 'FP32', data: [1] }); return infer(b); }, 400, /unknown input 'x'/],
  ['non-integer INT64 data', () => infer(withInput('sr', { data: [16000.5] })), 400, /input 'sr': element 0 \(16000\.5\) is not a valid INT64 value/],
  ['strings as FP32 data', () => infer(withInput('input', { data: ['a', 'b'] })), 400, /input 'input': data must be an array of numbers/],
  ['unknown output', () => infer({ ...inferBody(chunk), outputs: [{ name: 'nope' }] }), 400, /unknown output 'nope'/],
  ['BYTES for an FP32 input', () => infer(withInput('input', { datatype: 'BYTES' })), 400, /input 'input': datatype BYTES, expected FP32/],
  ['BF16 (no onnxruntime-node tensor type)', () => infer(withInput('input', { datatype: 'BF16' })), 501, /datatype BF16 is not served/],
  ['unknown model', () => infer(inferBody(chunk), '/v2/models/nosuch/infer'), 404, /^unknown model: 'nosuch'; served: 'flights-delay', 'vad'$/],
  ['a typo of a model name', () => infer(inferBody(chunk), '/v2/models/VDA/infer'), 404, /^unknown model: 'VDA' \(did you mean 'vad'\?\); served: 'flights-delay', 'vad'$/],
  ['unknown version', () => infer(inferBody(chunk), '/v2/models/vad/versions/7/infer'), 404, /model 'vad' has no version 7/],
  ['version that is neither a number nor an alias', () => infer(inferBody(chunk), '/v2/models/vad/versions/1.5/infer'), 400, /version '1\.5' must be a positive integer or an alias/],
  ['an alias that does not exist', () => infer(inferBody(chunk), '/v2/models/vad/versions/latest/infer'), 404, /model 'vad' has no alias 'latest'; aliases: none/],
  ['traversal in the model name', () => infer(inferBody(chunk), '/v2/models/..%2F..%2Fetc/infer'), 400, /model name '\.\.\/\.\.\/etc' must match/],
  ['oversized body', () => infer({ ...inferBody(chunk), pad: 'x'.repeat(300 * 1024) }), 413, /request body too large/],
  ['binary header longer than the body', () => infer('{}', '/v2/models/vad/infer', { 'Inference-Header-Content-Length': '999' }), 400, /Inference-Header-Content-Length 999/],
  ['binary size that does not match the shape', () => {
    const header = JSON.stringify({ inputs: [{ name: 'input', shape: [1, CHUNK], datatype: 'FP32', parameters: { binary_data_size: 100 } }, ...inferBody(chunk).inputs.slice(1)] });
    return infer(header + 'x'.repeat(100), '/v2/models/vad/infer', { 'Inference-Header-Content-Length': String(header.length) });
  }, 400, /input 'input': shape \[1,1536\] of FP32 needs 6144 bytes, binary_data_size is 100/],
  ['binary data left over', () => {
    const header = JSON.stringify(inferBody(chunk));
    return infer(header + 'extra', '/v2/models/vad/infer', { 'Inference-Header-Content-Length': String(header.length) });
  }, 400, /binary section has 5 bytes but the inputs declare 0/],
  ['batch above max_batch_size', () => {
    const b = withInput('input', { shape: [65, 1], data: Array.from(chunk.subarray(0, 65)) });
    b.inputs[2] = { ...b.inputs[2], shape: [2, 65, 64], data: new Array(2 * 65 * 64).fill(0) };
    b.inputs[3] = { ...b.inputs[3], shape: [2, 65, 64], data: new Array(2 * 65 * 64).fill(0) };
    return infer(b);
  }, 400, /batch size 65 exceeds the model's max_batch_size 64/],
  ['fractional Inference-Header-Content-Length', () => infer(JSON.stringify(inferBody(chunk)), '/v2/models/vad/infer', { 'Inference-Header-Content-Length': '1.5' }), 400, /Inference-Header-Content-Length 1\.5 is not a length/],
  ['an input shape the graph cannot run (16 samples)', () => infer(withInput('input', { shape: [1, 16], data: Array.from(chunk.subarray(0, 16)) })), 400, /the model refused the input: the model cannot run on inputs of these shapes: input \[1,16\], sr \[\], h \[2,1,64\], c \[2,1,64\]$/],
  ['an output named twice', () => infer({ ...inferBody(chunk), outputs: [{ name: 'output' }, { name: 'output' }] }), 400, /names an output more than once/],
  ['/predict with features nested 200,000 deep', () => postJson(`${srv.url}/predict`, `{"model":"vad","features":{"samples":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`), 400, /feature 'samples' must be a number, a string, a boolean or an array of numbers/],
  ['Content-Type text/plain', () => infer(JSON.stringify(inferBody(chunk)), '/v2/models/vad/infer', { 'Content-Type': 'text/plain' }), 415, /Content-Type 'text\/plain' is not supported; send application\/json/],
  ['Content-Encoding br', () => infer(JSON.stringify(inferBody(chunk)), '/v2/models/vad/infer', { 'Content-Encoding': 'br' }), 415, /Content-Encoding 'br' is not supported/],
  ['/predict as a form', () => postJson(`${srv.url}/predict`, 'features=1', { 'Content-Type': 'application/x-www-form-urlencoded' }), 415, /send application\/json/],
];

for (const [name, send, status, re] of cases) {
  test(`BAD CALL - ${name} → ${status}`, async (t) => {
    const r = await send();
    assert.strictEqual(r.status, status, JSON.stringify(r.json));
    assert.strictEqual(typeof r.json.error, 'string');
    assert.match(r.json.error, re);
    assert.match(r.json.code, /^ENG_ERR_[A-Z_]+$/);
    await stillServing();
  });
}

test('BAD CALL - unknown route → 404 with an error body', async (t) => {
  const r = await fetch(`${srv.url}/v3/nothing`);
  assert.strictEqual(r.status, 404);
  assert.match(((await r.json()) as { error: string }).error, /no such route/);
});
