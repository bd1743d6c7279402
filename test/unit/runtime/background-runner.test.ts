// The background runner (shadow traffic in a child process at idle CPU priority) against
// the serving path in this process: the flights-delay version the pipeline trained (native
// executor) on real held-out February 2001 rows, and Silero VAD (onnxruntime) on real speech.
// Its answers must be the serving path's, bit for bit; a bad request fails alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { PACKAGE_ROOT } from '../../../src/native/binding';
import { ModelRepository } from '../../../src/repository/model-repository';
import { BackgroundRunner } from '../../../src/runtime/background-runner';
import { NativeBackend } from '../../../src/runtime/native-backend';
import { OnnxBackend } from '../../../src/runtime/onnx-backend';
import { featuresToInputs } from '../../../src/protocol/predict-codec';
import type { Tensor } from '../../../src/protocol/datatypes';
import { februaryRows, flightsMissing } from '../native/flights-model';
import { readWav } from '../../../src/audio/wav';
import { HELLO_WAV } from '../native/real-data';

const skip = flightsMissing();

async function repository(model: string) {
  const backend = new OnnxBackend({ workers: 1 });
  const repo = new ModelRepository({ root: path.join(PACKAGE_ROOT, 'models'), backend, maxInFlight: 1, sandbox: null, pinned: { [model]: [1] }, nativeBackend: () => new NativeBackend() });
  await repo.load(model);
  return { repo, backend, mv: repo.resolve(model, 1) };
}

/** Scheduling policy of every thread of a process, read from /proc (field 41 of stat: 5 is SCHED_IDLE). */
function threadPolicies(pid: number): number[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => Number(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[38]));
}
const SCHED_IDLE = 5;

test('every thread of the background process runs at idle CPU priority (Linux SCHED_IDLE), this process\'s stay as they were', { skip: process.platform !== 'linux' && 'SCHED_IDLE is Linux only' }, async () => {
  const bg = new BackgroundRunner();
  try {
    assert.equal(bg.pid, undefined, 'no process before the first call');
    assert.deepEqual(await bg.priority(), { ok: true });
    const pid = bg.pid!;
    assert.ok(pid > 0 && pid !== process.pid);
    const policies = threadPolicies(pid);
    assert.ok(policies.length >= 2, `the child's threads: ${policies}`);
    assert.deepEqual(policies, policies.map(() => SCHED_IDLE));
    assert.ok(threadPolicies(process.pid).every((p) => p !== SCHED_IDLE), 'the parent is untouched');
  } finally {
    await bg.close();
  }
});

test('a background process that dies fails its waiting calls with a clear error, and the next call starts a new one', { skip }, async () => {
  const { repo, backend, mv } = await repository('flights-delay');
  const bg = new BackgroundRunner({ restartGapMs: 0 });
  try {
    const data = await februaryRows(8);
    const spec = mv.featureSpec!;
    const rows = Array.from({ length: data.rows }, (_, i) => Object.fromEntries(spec.inputs.map((f) => [f.name, (data.columns[f.name] as ArrayLike<unknown>)[i]])));
    const output = mv.config.predict!.output;
    const first = await bg.predict(mv, rows, output, 8);
    const pid = bg.pid!;
    const waiting = bg.predict(mv, rows, output, 8);
    process.kill(pid, 'SIGKILL');
    await assert.rejects(waiting, /background process exited \(SIGKILL\)|background process did not take/);
    const again = await bg.predict(mv, rows, output, 8);
    assert.notEqual(bg.pid, pid);
    assert.deepEqual(again[0].data, first[0].data);
  } finally {
    await bg.close();
    await repo.close();
    await backend.close();
  }
  // Closed: calls fail at once instead of starting a process.
  await assert.rejects(bg.priority(), /closed/);
});

test('within the restart gap a dead background process is not restarted: calls fail at once', { skip: process.platform !== 'linux' && 'Linux only' }, async () => {
  const bg = new BackgroundRunner({ restartGapMs: 60_000 });
  try {
    await bg.priority();
    const pid = bg.pid!;
    process.kill(pid, 'SIGKILL');
    // The exit reaches this process asynchronously: wait for the runner to notice.
    for (let i = 0; i < 200 && bg.pid !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(bg.pid, undefined);
    await assert.rejects(bg.priority(), /restarts on a later call/);
  } finally {
    await bg.close();
  }
});

test('predict: flights-delay rows through the version\'s transform and native run, equal to the serving path, in runs of at most maxBatchRows', { skip }, async () => {
  const { repo, backend, mv } = await repository('flights-delay');
  const bg = new BackgroundRunner();
  try {
    assert.equal(mv.config.backend, 'native');
    const data = await februaryRows(70);
    const spec = mv.featureSpec!;
    const rows = Array.from({ length: data.rows }, (_, i) => Object.fromEntries(spec.inputs.map((f) => [f.name, (data.columns[f.name] as ArrayLike<unknown>)[i]])));
    const output = mv.config.predict!.output;
    const outs = await bg.predict(mv, rows, output, 32);
    assert.deepEqual(outs.map((t) => t.shape[0]), [32, 32, 6]);
    // Reference: the serving path's own transform and run, on the event loop.
    const { inputs } = featuresToInputs(mv.config, rows, spec);
    const ref = (await mv.infer({ inputs, outputs: [output] })).outputs[0].data as Float32Array;
    const got = new Float32Array(outs.flatMap((t) => [...(t.data as Float32Array)]));
    assert.equal(got.length, ref.length);
    assert.deepEqual(got, ref);
    // And independent of Infera's executor: onnxruntime on the same features within fp32 summation order.
    const session = await ort.InferenceSession.create(mv.modelPath!);
    const x = featuresToInputs(mv.config, rows, spec).inputs[0];
    const o = (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.data as Float32Array, x.shape) }))[output].data as Float32Array;
    for (let i = 0; i < o.length; i++) assert.ok(Math.abs(o[i] - got[i]) <= 1e-5, `row value ${i}: ${got[i]} vs onnxruntime ${o[i]}`);
  } finally {
    await bg.close();
    await repo.close();
    await backend.close();
  }
});

test('run: VAD requests on onnxruntime equal the serving path bit for bit; a malformed request (inputs missing) fails alone', async () => {
  const { repo, backend, mv } = await repository('vad');
  const bg = new BackgroundRunner();
  try {
    const wav = readWav(HELLO_WAV);
    const request = (k: number, samples = 1536): Tensor[] => [
      { name: 'input', datatype: 'FP32', shape: [1, samples], data: wav.samples.slice(k * 1536, k * 1536 + samples) },
      { name: 'sr', datatype: 'INT64', shape: [], data: BigInt64Array.from([16000n]) },
      { name: 'h', datatype: 'FP32', shape: [2, 1, 64], data: new Float32Array(128) },
      { name: 'c', datatype: 'FP32', shape: [2, 1, 64], data: new Float32Array(128) },
    ];
    const ks = [3, 10, 20];
    const refs = [];
    for (const k of ks) refs.push((await mv.infer({ inputs: request(k), outputs: ['output'] })).outputs[0].data);
    const answers = await bg.run(mv, [request(ks[0]), [{ name: 'input', datatype: 'FP32', shape: [1, 7], data: new Float32Array(7) }], request(ks[1]), request(ks[2])], ['output']);
    assert.equal(answers.length, 4);
    assert.ok(answers[1].error && !answers[1].outputs, 'the malformed request fails');
    assert.deepEqual([answers[0], answers[2], answers[3]].map((a) => a.outputs![0].data), refs);
  } finally {
    await bg.close();
    await repo.close();
    await backend.close();
  }
});
