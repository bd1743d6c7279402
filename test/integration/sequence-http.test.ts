import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CHUNK, ReferenceVad, maxAbsDiff, speechChunks } from '../helpers/vad';
import { Running, postJson, scratchRepository, startServer } from '../helpers/server';

/**
 * Batched and single-row runs of the VAD's GEMMs accumulate in different orders; with
 * the state carried through 12 chunks of 8 sequences the largest difference seen was 4.8e-7.
 */
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

/** A sequence request: only `input` and `sr`; the server holds h and c. */
function seqBody(chunk: Float32Array, params: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    inputs: [
      { name: 'input', shape: [1, CHUNK], datatype: 'FP32', data: Array.from(chunk) },
      { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
    ],
    parameters: params,
    ...extra,
  };
}

const infer = (body: unknown) => postJson(`${srv.url}/v2/models/vad/infer`, body);


test('a sequence over HTTP (state held by the server) equals in-process onnxruntime with carried state', async (t) => {
  const mv = srv.server.repository.resolve('vad');
  const got: number[] = [];
  for (let k = 0; k < speech.length; k++) {
    const r = await infer(seqBody(speech[k], { sequence_id: 42, sequence_start: k === 0, sequence_end: k === speech.length - 1 }));
    assert.strictEqual(r.status, 200, JSON.stringify(r.json));
    assert.deepStrictEqual(r.json.outputs.map((o: any) => o.name), ['output'], 'state outputs stay on the server');
    got.push(r.json.outputs[0].data[0]);
    if (k === 0) assert.strictEqual(mv.sequenceCount, 1);
  }
  assert.strictEqual(mv.sequenceCount, 0, 'released after sequence_end');
  const want = await ref.sequence(speech);
  assert.ok(maxAbsDiff(got, want) <= 1e-6, `max abs diff ${maxAbsDiff(got, want)}`);
  assert.ok(Math.max(...got) > 0.8 && Math.min(...got) < 0.2);
});

test('chunks of 8 sequences run as one batch per step, each with its own state', async (t) => {
  const mv = srv.server.repository.resolve('vad');
  const n = 8;
  const steps = 12;
  const audio = Array.from({ length: n }, (_, i) => speech.slice(i * 2, i * 2 + steps));
  const before = mv.stats.batches.get(n)?.count ?? 0;
  const got: number[][] = audio.map(() => []);
  for (let k = 0; k < steps; k++) {
    mv.holdUntil(n);
    const res = await Promise.all(audio.map((chunks, i) => infer(seqBody(chunks[k], { sequence_id: `stream-${i}`, sequence_start: k === 0, sequence_end: k === steps - 1 }))));
    res.forEach((r, i) => {
      assert.strictEqual(r.status, 200, JSON.stringify(r.json));
      got[i].push(r.json.outputs[0].data[0]);
    });
  }
  assert.strictEqual((mv.stats.batches.get(n)?.count ?? 0) - before, steps, 'one batch of 8 sequences per step');
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, maxAbsDiff(got[i], await ref.sequence(audio[i])));
  t.diagnostic(`8 batched sequences vs unbatched reference: max abs diff ${worst.toExponential(2)}`);
  assert.ok(worst <= BATCH_TOLERANCE, `max abs diff ${worst}`);
  assert.strictEqual(mv.sequenceCount, 0);
});

test('BAD CALL - sequence requests Triton refuses are 400 with the reason', async (t) => {
  const ch = speech[5];
  const cases: [string, unknown, RegExp][] = [
    ['no start flag on an unknown sequence', seqBody(ch, { sequence_id: 777 }), /sequence 777 to model 'vad' must specify the START flag on the first request of the sequence/],
    ['zero id', seqBody(ch, { sequence_id: 0, sequence_start: true }), /must specify a non-zero or non-empty correlation ID/],
    ['empty string id', seqBody(ch, { sequence_id: '', sequence_start: true }), /must specify a non-zero or non-empty correlation ID/],
    ['negative id', seqBody(ch, { sequence_id: -3, sequence_start: true }), /sequence_id must be a non-negative integer/],
    ['non-boolean flag', seqBody(ch, { sequence_id: 5, sequence_start: 1 }), /parameters\.sequence_start must be a boolean/],
    ['flags without an id', seqBody(ch, { sequence_start: true }), /need parameters\.sequence_id/],
  ];
  for (const [name, body, re] of cases) {
    const r = await infer(body);
    assert.strictEqual(r.status, 400, name);
    assert.match(r.json.error, re, name);
  }
  const withState = seqBody(ch, { sequence_id: 9, sequence_start: true });
  withState.inputs.push({ name: 'h', shape: [2, 1, 64], datatype: 'FP32', data: new Array(128).fill(0) });
  const s = await infer(withState);
  assert.strictEqual(s.status, 400);
  assert.match(s.json.error, /input 'h' is sequence state held by the server; send only 'input', 'sr'/);
  const two = seqBody(ch, { sequence_id: 9, sequence_start: true });
  two.inputs[0] = { name: 'input', shape: [2, CHUNK], datatype: 'FP32', data: [...ch, ...ch] };
  const r2 = await infer(two);
  assert.strictEqual(r2.status, 400);
  assert.match(r2.json.error, /a sequence request carries one row \(batch size 1\), got 2/);
  assert.strictEqual(srv.server.repository.resolve('vad').sequenceCount, 0, 'refused requests create no sequence');
});

test('EXPECTED FAILURE - a sequence request that times out in the queue gets 503; the sequence goes on', async (t) => {
  const mv = srv.server.repository.resolve('vad');
  assert.strictEqual((await infer(seqBody(speech[0], { sequence_id: 'slow', sequence_start: true }))).status, 200);
  mv.holdUntil(2);
  // parameters.timeout is in microseconds: 20 ms.
  const r = await infer(seqBody(speech[1], { sequence_id: 'slow', timeout: 20000 }));
  assert.strictEqual(r.status, 503);
  assert.strictEqual(r.headers.get('retry-after'), '1');
  assert.match(r.json.error, /timed out in the queue: sequence slow: waited/);
  mv.holdUntil(0);
  const next = await infer(seqBody(speech[2], { sequence_id: 'slow', sequence_end: true }));
  assert.strictEqual(next.status, 200);
  assert.strictEqual(mv.sequenceCount, 0);
});

test('the state outputs can be asked for; stateless requests (h, c given) still work beside sequences', async (t) => {
  const r = await infer(seqBody(speech[7], { sequence_id: 1, sequence_start: true, sequence_end: true }, { outputs: [{ name: 'output' }, { name: 'hn' }] }));
  assert.strictEqual(r.status, 200);
  const e = await ref.run(speech[7]);
  assert.ok(maxAbsDiff(r.json.outputs[1].data, e.hn) <= 1e-6);
});

test('BAD CALL - sequence_id on a model without `sequence` is 400', async (t) => {
  const repo = scratchRepository();
  const file = path.join(repo, 'vad/model.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  delete cfg.sequence;
  fs.writeFileSync(file, JSON.stringify(cfg));
  const plain = await startServer({ repository: repo });
  try {
    const r = await postJson(`${plain.url}/v2/models/vad/infer`, seqBody(speech[3], { sequence_id: 3, sequence_start: true }));
    assert.strictEqual(r.status, 400);
    assert.match(r.json.error, /model 'vad' is not stateful \(its model.json declares no 'sequence'\); sequence_id is not supported/);
  } finally {
    await plain.server.stop();
  }
});
