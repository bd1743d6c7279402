import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamModel, StreamSession, StreamSocket, WINDOW, parseStreamQuery } from '../../../src/stream/stream-session';
import { InferaError } from '../../../src/errors';
import type { InferInput, SequenceChunk } from '../../../src/serving/model-version';
import { AUDIO, loadAudio } from '../../helpers/stream-audio';
import { pcm16Bytes } from '../../helpers/ws-client';

/** A socket that records frames; `buffered` simulates a client that does not read. */
function fakeSocket() {
  const s = { sent: [] as any[], closed: null as null | { code: number; reason: string }, buffered: 0, sendStatus: 1 };
  const socket: StreamSocket = {
    send: (text) => { s.sent.push(JSON.parse(text)); return s.sendStatus; },
    getBufferedAmount: () => s.buffered,
    end: (code, reason) => { s.closed = { code, reason }; },
  };
  return { s, socket };
}

/** A model that answers each window with its mean absolute sample, or as `answer` says. */
function fakeModel(answer?: (k: number) => Promise<number>) {
  const calls: { chunk: SequenceChunk; samples: Float32Array }[] = [];
  const m = { calls, released: 0, ended: 0 };
  const model: StreamModel = {
    inferSequence: async (chunk: SequenceChunk, req: InferInput) => {
      const samples = req.inputs[0].data as Float32Array;
      calls.push({ chunk, samples });
      const p = answer ? await answer(calls.length - 1) : samples.reduce((a, v) => a + Math.abs(v), 0) / samples.length;
      return { outputs: [{ name: 'output', datatype: 'FP32', shape: [1, 1], data: Float32Array.of(p) }], queueMs: 0, computeMs: 0 };
    },
    endSequence: () => { m.ended += 1; },
    releaseSequence: () => { m.released += 1; return true; },
  };
  return { m, model };
}

const limits = { maxFrameBytes: 1 << 20, maxBufferedBytes: 1000, maxPendingWindows: 4 };
const session = (socket: StreamSocket, model: StreamModel, extra: Partial<typeof limits> = {}) =>
  new StreamSession(socket, model, { ...limits, ...extra, format: 'pcm16', rate: 16000, key: 'ws:1', label: 'stream 1', binding: { input: 'input', sampleRateInput: 'sr', output: 'output' } });
const settle = () => new Promise((r) => setImmediate(r));

test('frames of any length become 1536-sample windows in order; the last is zero-padded and ends the sequence', async (t) => {
  const { s, socket } = fakeSocket();
  const { m, model } = fakeModel();
  const ss = session(socket, model, { maxPendingWindows: 100 });
  const speech = loadAudio(AUDIO.hello16k).samples.subarray(0, 3 * WINDOW + 100);
  const bytes = pcm16Bytes(speech);
  for (let off = 0; off < bytes.length; off += 1002) ss.onBinary(bytes.subarray(off, off + 1002));
  ss.onText('{"type":"end"}');
  await settle();
  assert.deepStrictEqual(m.calls.map((c) => [c.chunk.start, c.chunk.end, c.chunk.owned]), [[true, false, true], [false, false, true], [false, false, true], [false, true, true]]);
  assert.deepStrictEqual(m.calls[1].samples, speech.subarray(WINDOW, 2 * WINDOW));
  assert.deepStrictEqual(m.calls[3].samples.subarray(0, 100), speech.subarray(3 * WINDOW));
  assert.ok(m.calls[3].samples.subarray(100).every((v) => v === 0), 'zero padding');
  assert.deepStrictEqual(s.sent.filter((x) => x.type === 'result').map((x) => [x.seq, x.t0, x.t1]), [[0, 0, 0.096], [1, 0.096, 0.192], [2, 0.192, 0.288], [3, 0.288, 0.29425]]);
  assert.deepStrictEqual(s.sent.at(-1), { type: 'end' });
  assert.deepStrictEqual(s.closed, { code: 1000, reason: 'end of stream' });
  assert.strictEqual(m.ended, 0, 'the padded window carried the end flag');
  ss.onBinary(bytes.subarray(0, 100));
  assert.strictEqual(m.calls.length, 4, 'frames after the end are ignored');
});

test('audio of whole windows ends the sequence explicitly; results keep window order whatever the model timing', async (t) => {
  const { s, socket } = fakeSocket();
  const delays = [30, 1, 10];
  const { m, model } = fakeModel((k) => new Promise((r) => setTimeout(() => r(k / 10), delays[k])));
  const ss = session(socket, model);
  ss.onBinary(pcm16Bytes(loadAudio(AUDIO.hello16k).samples.subarray(0, 3 * WINDOW)));
  ss.onText('{"type":"end"}');
  await new Promise((r) => setTimeout(r, 60));
  assert.deepStrictEqual(s.sent.filter((x) => x.type === 'result').map((x) => x.seq), [0, 1, 2]);
  assert.strictEqual(m.ended, 1);
  assert.deepStrictEqual(s.closed?.code, 1000);
});

test('BAD CALL - a client that does not read is closed with 1008 and its sequence released', async (t) => {
  const { s, socket } = fakeSocket();
  const { m, model } = fakeModel();
  const ss = session(socket, model);
  s.buffered = 5000;
  ss.onBinary(pcm16Bytes(loadAudio(AUDIO.hello16k).samples.subarray(0, WINDOW)));
  await settle();
  assert.deepStrictEqual(s.closed, { code: 1008, reason: 'client is not reading: 5000 bytes buffered' });
  assert.strictEqual(m.released, 1);
  ss.onClose();
  assert.strictEqual(m.released, 1, 'released once');
  const dropped = fakeSocket();
  dropped.s.sendStatus = 2;
  const ss2 = session(dropped.socket, fakeModel().model);
  ss2.onBinary(pcm16Bytes(loadAudio(AUDIO.hello16k).samples.subarray(0, WINDOW)));
  await settle();
  assert.strictEqual(dropped.s.closed?.code, 1008);
});

test('BAD CALL - a client that sends faster than the model serves is closed with 1008', async (t) => {
  const { s, socket } = fakeSocket();
  const { m, model } = fakeModel(() => new Promise(() => undefined));
  const ss = session(socket, model);
  ss.onBinary(pcm16Bytes(loadAudio(AUDIO.hello16k).samples.subarray(0, 5 * WINDOW)));
  assert.strictEqual(m.calls.length, 2, 'two windows in the batcher, two in the backlog, the fifth is one too many');
  assert.strictEqual(s.closed?.code, 1008);
  assert.match(s.sent[0].error, /more than 4 windows waiting/);
});

test('BAD CALL - a failed window closes the stream: 503 → 1013, other errors → 1011', async (t) => {
  // An internal error's own message never reaches the client (it may name files or addresses).
  for (const [err, code, said] of [[new InferaError('ENG_ERR_TIMEOUT', 'waited 10000 ms', { retryAfterS: 1 }), 1013, /waited 10000 ms/], [new Error('backend exploded'), 1011, /^internal error$/]] as const) {
    const { s, socket } = fakeSocket();
    const { m, model } = fakeModel(() => Promise.reject(err));
    const ss = session(socket, model);
    ss.onBinary(pcm16Bytes(loadAudio(AUDIO.hello16k).samples.subarray(0, 2 * WINDOW)));
    await settle();
    assert.strictEqual(s.closed?.code, code);
    assert.strictEqual(s.sent.length, 1, 'one error frame, nothing after it');
    assert.match(s.sent[0].error, said);
    assert.strictEqual(m.released, 1);
  }
});

test('a client disconnect releases the sequence; late results are dropped without throwing', async (t) => {
  const { s, socket } = fakeSocket();
  let release!: () => void;
  const { m, model } = fakeModel(() => new Promise((r) => { release = () => r(0.9); }));
  const ss = session(socket, model);
  ss.onBinary(pcm16Bytes(loadAudio(AUDIO.hello16k).samples.subarray(0, WINDOW)));
  ss.onClose();
  assert.strictEqual(m.released, 1);
  release();
  await settle();
  assert.deepStrictEqual(s.sent, []);
  assert.strictEqual(ss.isClosed, true);
});

test('BAD CALL - stream query: format and rate from the allowed sets only', (t) => {
  assert.deepStrictEqual(parseStreamQuery(''), { format: 'pcm16', rate: 16000 });
  assert.deepStrictEqual(parseStreamQuery('format=f32&rate=48000'), { format: 'f32', rate: 48000 });
  assert.throws(() => parseStreamQuery('format=F32'), /format 'F32' is not served/);
  assert.throws(() => parseStreamQuery('rate=8000.0'), /rate '8000.0' is not served/);
  assert.throws(() => parseStreamQuery('rate=22050'), (e: InferaError) => e.status === 400);
});
