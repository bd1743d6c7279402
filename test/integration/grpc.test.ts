// The Open Inference Protocol over gRPC (issue 15), checked by an independent client generated
// at test time from proto/grpc_service.proto (test/helpers/grpc-client.ts): the conformance
// cases the REST tests run — metadata, infer with typed and raw contents, errors, sequences on
// ModelStreamInfer, BYTES and FP16, repository and statistics — each compared with the REST
// answer of the same server, and with onnxruntime in process where the REST tests do.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { buildTypedModels } from '../../scripts/build-typed-models';
import { CHUNK, ReferenceVad, inferBody, maxAbsDiff, speechChunks } from '../helpers/vad';
import { Running, getJson, postJson, scratchRepository, startServer } from '../helpers/server';
import { OipGrpcClient, grpcParameters } from '../helpers/grpc-client';
import { lengthPrefixed } from '../helpers/bytes-tensor';
import { CONNECTION_WINDOW_BYTES } from '../../src/server/grpc-server';
import { FLIGHTS_DIR, flightsMissing } from '../unit/native/flights-model';

/** REST status → the gRPC status the server's table must give (README, "gRPC"). */
const STATUS_FOR_HTTP: Record<number, grpc.status> = { 400: grpc.status.INVALID_ARGUMENT, 404: grpc.status.NOT_FOUND, 501: grpc.status.UNIMPLEMENTED, 503: grpc.status.UNAVAILABLE };

let dir: string;
let srv: Running;
let client: OipGrpcClient;
let ref: ReferenceVad;
let speech: Float32Array[];
const typedSkip = flightsMissing();

before(async () => {
  dir = scratchRepository();
  if (!typedSkip) buildTypedModels(dir);
  srv = await startServer({ repository: dir, grpcPort: 0 });
  client = new OipGrpcClient(`127.0.0.1:${srv.server.grpcPort}`);
  ref = await ReferenceVad.create();
  speech = speechChunks();
});

after(async () => {
  client?.close();
  await srv?.server.stop();
  await ref?.release();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const f32bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The VAD request of one chunk with zero state, raw contents. */
function rawVadRequest(chunk: Float32Array, extra: object = {}) {
  return {
    model_name: 'vad',
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [1, CHUNK] },
      { name: 'sr', datatype: 'INT64', shape: [] },
      { name: 'h', datatype: 'FP32', shape: [2, 1, 64] },
      { name: 'c', datatype: 'FP32', shape: [2, 1, 64] },
    ],
    raw_input_contents: [f32bytes(chunk), Buffer.from(BigInt64Array.from([16000n]).buffer), Buffer.alloc(512), Buffer.alloc(512)],
    ...extra,
  };
}

test('server and model metadata, liveness and readiness equal the REST answers', async () => {
  // The 16 MiB HTTP/2 receive window (batches of useful size) reaches grpc-js through a private field: fail loudly if an upgrade moves it.
  assert.equal(srv.server.grpc?.flowControlWindow, CONNECTION_WINDOW_BYTES);
  assert.deepEqual(await client.call('ServerLive', {}), { live: true });
  assert.deepEqual(await client.call('ServerReady', {}), { ready: true });
  const rest = (await getJson(`${srv.url}/v2`)).json;
  const meta = await client.call('ServerMetadata', {});
  assert.deepEqual({ name: meta.name, version: meta.version, extensions: meta.extensions }, rest);
  for (const version of ['', '1']) {
    const m = await client.call('ModelMetadata', { name: 'vad', version });
    const r = (await getJson(`${srv.url}/v2/models/vad${version ? `/versions/${version}` : ''}`)).json;
    const tensors = (ts: any[]) => ts.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) }));
    assert.deepEqual({ ...m, inputs: tensors(m.inputs), outputs: tensors(m.outputs) }, r);
  }
  assert.deepEqual(await client.call('ModelReady', { name: 'vad', version: '' }), { ready: true });
});

test('ModelInfer with raw contents equals REST binary infer bit for bit, and onnxruntime in process', async () => {
  for (const k of [3, 9, 14]) {
    const res = await client.call('ModelInfer', rawVadRequest(speech[k], { id: `chunk-${k}` }));
    assert.equal(res.id, `chunk-${k}`);
    assert.equal(res.model_name, 'vad');
    assert.deepEqual(res.outputs.map((o: any) => [o.name, o.datatype, o.shape.map(Number)]), [['output', 'FP32', [1, 1]], ['hn', 'FP32', [2, 1, 64]], ['cn', 'FP32', [2, 1, 64]]]);
    // REST, binary out: the same bytes.
    const json = Buffer.from(JSON.stringify({ ...inferBody(speech[k]), parameters: { binary_data_output: true } }));
    const http = await fetch(`${srv.url}/v2/models/vad/infer`, { method: 'POST', body: json, headers: { 'Content-Type': 'application/json' } });
    const body = Buffer.from(await http.arrayBuffer());
    const blob = body.subarray(Number(http.headers.get('inference-header-content-length')));
    assert.deepEqual(Buffer.concat(res.raw_output_contents), blob);
    const want = await ref.run(speech[k]);
    const got = new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer);
    assert.ok(maxAbsDiff(got, want.output) <= 1e-6, `chunk ${k}: ${got[0]} vs ${want.output[0]}`);
  }
});

test('ModelInfer with typed contents (fp32_contents, int64_contents) equals REST JSON infer', async () => {
  const chunk = speech[10];
  const res = await client.call('ModelInfer', {
    model_name: 'vad',
    model_version: '1',
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [1, CHUNK], contents: { fp32_contents: Array.from(chunk) } },
      { name: 'sr', datatype: 'INT64', shape: [], contents: { int64_contents: ['16000'] } },
      { name: 'h', datatype: 'FP32', shape: [2, 1, 64], contents: { fp32_contents: new Array(128).fill(0) } },
      { name: 'c', datatype: 'FP32', shape: [2, 1, 64], contents: { fp32_contents: new Array(128).fill(0) } },
    ],
    outputs: [{ name: 'output' }],
  });
  const rest = await postJson(`${srv.url}/v2/models/vad/versions/1/infer`, { ...inferBody(chunk), outputs: [{ name: 'output' }] });
  assert.equal(rest.status, 200);
  assert.equal(res.outputs.length, 1, 'only the requested output');
  assert.deepEqual(Array.from(new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer)), rest.json.outputs[0].data);
});

test('errors: the same code and message as REST, with the status of the documented table', async () => {
  const chunk = speech[5];
  const withInput = (name: string, patch: object) => {
    const b = inferBody(chunk);
    return { ...b, inputs: b.inputs.map((t) => (t.name === name ? { ...t, ...patch } : t)) };
  };
  const asGrpc = (body: any, model = 'vad', version = '') => ({
    model_name: model,
    model_version: version,
    inputs: body.inputs.map((t: any) => ({ name: t.name, datatype: t.datatype, shape: t.shape, contents: t.datatype === 'INT64' ? { int64_contents: t.data.map(String) } : { fp32_contents: t.data } })),
  });
  const cases: [string, any, string, string?][] = [
    ['unknown model', inferBody(chunk), 'nosuch'],
    ['unknown version', inferBody(chunk), 'vad', '7'],
    ['bad version', inferBody(chunk), 'vad', '1.5'],
    ['wrong datatype', withInput('h', { datatype: 'FP64' }), 'vad'],
    ['BF16', withInput('h', { datatype: 'BF16' }), 'vad'],
    ['fixed dim mismatch', withInput('h', { shape: [2, 2, 32] }), 'vad'],
    ['missing input', { inputs: inferBody(chunk).inputs.slice(0, 3) }, 'vad'],
  ];
  for (const [what, body, model, version] of cases) {
    const restUrl = `${srv.url}/v2/models/${model}${version ? `/versions/${version}` : ''}/infer`;
    const rest = await postJson(restUrl, body);
    assert.ok(rest.status >= 400, `${what}: REST ${rest.status}`);
    const err = await client.error('ModelInfer', asGrpc(body, model, version));
    assert.equal(err.code, STATUS_FOR_HTTP[rest.status], `${what}: gRPC ${grpc.status[err.code]} for REST ${rest.status}`);
    assert.equal(err.details, rest.json.error, what);
    assert.equal(err.metadata.get('infera-error-code')[0], rest.json.code, what);
  }
  // Errors of the gRPC form itself.
  const short = rawVadRequest(chunk);
  short.raw_input_contents[0] = short.raw_input_contents[0].subarray(4);
  const e1 = await client.error('ModelInfer', short);
  assert.equal(e1.code, grpc.status.INVALID_ARGUMENT);
  assert.match(e1.details, /input 'input': shape \[1,1536\] of FP32 needs 6144 bytes, raw_input_contents\[0\] has 6140/);
  const e2 = await client.error('ModelInfer', { ...rawVadRequest(chunk), raw_input_contents: [f32bytes(chunk)] });
  assert.match(e2.details, /raw_input_contents has 1 entries for 4 inputs/);
  const wrongField = asGrpc(inferBody(chunk));
  wrongField.inputs[1].contents = { fp32_contents: [16000] };
  const e3 = await client.error('ModelInfer', wrongField);
  assert.equal(e3.code, grpc.status.INVALID_ARGUMENT);
  assert.match(e3.details, /input 'sr': datatype INT64 is carried in int64_contents, the request filled fp32_contents/);
  const e4 = await client.error('ModelMetadata', { name: 'nosuch', version: '' });
  assert.equal(e4.code, grpc.status.NOT_FOUND);
  // The server goes on.
  assert.equal((await client.call('ModelInfer', rawVadRequest(chunk))).model_name, 'vad');
});


test('sequences on ModelStreamInfer (state held by the server) equal the offline run; an error is a message, not the end', async () => {
  const seq = (id: number, k: number, chunk: Float32Array, last: boolean) => ({
    model_name: 'vad',
    id: `${id}/${k}`,
    parameters: grpcParameters({ sequence_id: id, sequence_start: k === 0, sequence_end: last }),
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, CHUNK] }, { name: 'sr', datatype: 'INT64', shape: [] }],
    outputs: [{ name: 'output' }],
    raw_input_contents: [f32bytes(chunk), Buffer.from(BigInt64Array.from([16000n]).buffer)],
  });
  // Two interleaved sequences over different stretches of the recording, and one bad message.
  const a = speech.slice(0, 12);
  const b = speech.slice(6, 18);
  const requests: object[] = [];
  for (let k = 0; k < 12; k++) {
    requests.push(seq(7, k, a[k], k === 11), seq(8, k, b[k], k === 11));
    if (k === 4) requests.push({ ...seq(9, 0, a[0], true), inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1000] }, { name: 'sr', datatype: 'INT64', shape: [] }] });
  }
  const answers = await client.stream(requests);
  assert.equal(answers.length, requests.length);
  const errors = answers.filter((m) => m.error_message !== '');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].infer_response.id, '9/0');
  assert.match(errors[0].error_message, /needs 4000 bytes, raw_input_contents\[0\] has 6144/);
  const prob = (id: number) => Array.from({ length: 12 }, (_, k) => {
    const m = answers.find((x) => x.infer_response.id === `${id}/${k}`);
    assert.ok(m && m.error_message === '', `${id}/${k}`);
    return new Float32Array(new Uint8Array(m.infer_response.raw_output_contents[0]).buffer)[0];
  });
  const [gotA, gotB] = [prob(7), prob(8)];
  const [wantA, wantB] = [await ref.sequence(a), await ref.sequence(b)];
  // Steps of the two sequences may share a batch: batched GEMMs accumulate in another order (sequence-http.test.ts).
  assert.ok(maxAbsDiff(gotA, wantA) <= 1e-4 && maxAbsDiff(gotB, wantB) <= 1e-4, `${maxAbsDiff(gotA, wantA)} ${maxAbsDiff(gotB, wantB)}`);
  assert.ok(Math.max(...gotA) > 0.8 && Math.min(...gotA) < 0.2, 'speech and silence both present');
  assert.equal(srv.server.repository.resolve('vad').sequenceCount, 0, 'both sequences released');
});

test('BYTES (raw and bytes_contents) and FP16 over gRPC equal the REST answers', { skip: typedSkip }, async () => {
  const spec = JSON.parse(fs.readFileSync(path.join(FLIGHTS_DIR, 'feature_spec.json'), 'utf8'));
  const vocab: string[] = spec.blocks.find((x: any) => x.kind === 'categorical' && x.input === 'origin').vocabulary;
  const codes = ['ORD', 'SFO', 'PSC', 'Zürich', vocab[17]];
  const prefixed = lengthPrefixed(codes);
  const raw = await client.call('ModelInfer', { model_name: 'airports', inputs: [{ name: 'code', datatype: 'BYTES', shape: [5, 1] }], raw_input_contents: [prefixed] });
  const typed = await client.call('ModelInfer', { model_name: 'airports', inputs: [{ name: 'code', datatype: 'BYTES', shape: [5, 1], contents: { bytes_contents: codes.map((c) => Buffer.from(c)) } }] });
  const rest = await postJson(`${srv.url}/v2/models/airports/infer`, { inputs: [{ name: 'code', datatype: 'BYTES', shape: [5, 1], data: codes }] });
  for (const res of [raw, typed]) {
    assert.deepEqual(Array.from(new BigInt64Array(new Uint8Array(res.raw_output_contents[0]).buffer), Number), rest.json.outputs[0].data);
    assert.deepEqual(Array.from(new BigInt64Array(new Uint8Array(res.raw_output_contents[0]).buffer), Number), codes.map((c) => vocab.indexOf(c)));
    const out: Buffer = res.raw_output_contents[1];
    const strings: string[] = [];
    for (let o = 0; o < out.byteLength; o += 4 + out.readUInt32LE(o)) strings.push(out.subarray(o + 4, o + 4 + out.readUInt32LE(o)).toString());
    assert.deepEqual(strings, rest.json.outputs[1].data);
  }
  const notUtf8 = await client.error('ModelInfer', { model_name: 'airports', inputs: [{ name: 'code', datatype: 'BYTES', shape: [1, 1], contents: { bytes_contents: [Buffer.from([0xd6, 0x52])] } }] });
  assert.equal(notUtf8.code, grpc.status.INVALID_ARGUMENT);
  assert.match(notUtf8.details, /not valid UTF-8/);
  const fp16Typed = await client.error('ModelInfer', { model_name: 'flights-delay-fp16', inputs: [{ name: 'features', datatype: 'FP16', shape: [1, 1], contents: { fp32_contents: [1] } }] });
  assert.match(fp16Typed.details, /FP16 has no typed contents field; send it in raw_input_contents/);
  // FP16 raw: the halves REST's JSON path makes from speech-like numbers... here the one-hot width of the flights model.
  const width = spec.width;
  const halves = new Uint16Array(width).fill(0x3800); // 0.5 in every feature
  const r16 = await client.call('ModelInfer', { model_name: 'flights-delay-fp16', inputs: [{ name: 'features', datatype: 'FP16', shape: [1, width] }], raw_input_contents: [Buffer.from(halves.buffer)] });
  const rest16 = await postJson(`${srv.url}/v2/models/flights-delay-fp16/infer`, { inputs: [{ name: 'features', datatype: 'FP16', shape: [1, width], data: new Array(width).fill(0.5) }], parameters: { binary_data_output: false } });
  assert.equal(r16.outputs[0].datatype, 'FP16');
  const bits = new Uint16Array(new Uint8Array(r16.raw_output_contents[0]).buffer);
  const value = (h: number) => ((h & 0x8000) ? -1 : 1) * ((h >> 10) & 0x1f ? (1 + (h & 0x3ff) / 1024) * 2 ** (((h >> 10) & 0x1f) - 15) : (h & 0x3ff) * 2 ** -24);
  assert.deepEqual(Array.from(bits, value), rest16.json.outputs[0].data);
});

test('statistics and the repository index equal REST; load and unload work from loopback', async () => {
  const stats = await client.call('ModelStatistics', { name: 'vad', version: '' });
  const rest = (await getJson(`${srv.url}/v2/models/vad/stats`)).json;
  assert.equal(stats.model_stats.length, rest.model_stats.length);
  assert.equal(Number(stats.model_stats[0].inference_count), rest.model_stats[0].inference_count);
  assert.equal(Number(stats.model_stats[0].execution_count), rest.model_stats[0].execution_count);
  assert.ok(rest.model_stats[0].inference_count > 0);
  const index = await client.call('RepositoryIndex', {});
  const restIndex = (await postJson(`${srv.url}/v2/repository/index`, {})).json;
  assert.deepEqual(index.models, restIndex.map((m: any) => ({ ...m, version: m.version ?? '' })));
  await client.call('RepositoryModelUnload', { model_name: 'vad' });
  const gone = await client.error('ModelInfer', rawVadRequest(speech[1]));
  assert.ok([grpc.status.NOT_FOUND, grpc.status.UNAVAILABLE].includes(gone.code), grpc.status[gone.code]);
  await client.call('RepositoryModelLoad', { model_name: 'vad' });
  assert.equal((await client.call('ModelInfer', rawVadRequest(speech[1]))).model_name, 'vad');
  assert.deepEqual(await client.call('ModelReady', { name: 'vad', version: '' }), { ready: true });
});

test('graceful stop: a call in flight completes, an open stream ends with UNAVAILABLE, new calls are refused', async () => {
  const stream = client.raw.ModelStreamInfer(new grpc.Metadata());
  const streamEnd = new Promise<grpc.status>((resolve) => {
    stream.on('data', () => undefined);
    stream.on('error', (e: grpc.ServiceError) => resolve(e.code));
    stream.on('end', () => resolve(grpc.status.OK));
  });
  // Hold the batcher so the call is surely in flight (queued) when the stop begins.
  const mv = srv.server.repository.resolve('vad');
  mv.holdUntil(2);
  const inFlight = client.call('ModelInfer', rawVadRequest(speech[2]));
  for (let i = 0; i < 500 && srv.server.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 2));
  assert.equal(srv.server.inFlight, 1);
  const stopped = srv.server.stop();
  const refused = await client.error('ModelInfer', rawVadRequest(speech[2]));
  assert.equal(refused.code, grpc.status.UNAVAILABLE);
  assert.match(refused.details, /shutting down/);
  mv.holdUntil(0);
  assert.equal((await inFlight).model_name, 'vad', 'the call in flight got its answer');
  assert.equal(await streamEnd, grpc.status.UNAVAILABLE);
  await stopped;
  const after = await client.error('ModelInfer', rawVadRequest(speech[2]));
  assert.equal(after.code, grpc.status.UNAVAILABLE);
  srv = undefined as unknown as Running;
});
