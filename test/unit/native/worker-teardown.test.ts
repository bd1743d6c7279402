// A worker thread that ends with the addon's async work still in flight must not take the
// process down. When such work completes, its OnOK cannot create JS values in the dying
// environment; without NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS node-addon-api rethrew that
// failure as a C++ exception ("terminate called after throwing an instance of
// 'Napi::Error'", seen in CI when the bench's in-process ceiling terminated its workers).
//
// The test runs the scenario in a child process (an abort must fail the test, not the test
// runner): each worker keeps 8 native JSON parses (a real speech request) and 8 native
// batch concatenations (256 KiB of the VAD model file) in flight and is terminated a few ms in. This
// file is also the child and the worker, told apart by an environment variable and
// isMainThread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as path from 'node:path';
import { ADDON_CANDIDATES, PACKAGE_ROOT, loadBindingFrom } from '../../../src/native/binding';
import { speechSamples } from './real-data';

const CHILD_ENV = 'INFERA_TEARDOWN_CHILD';
const TERMINATIONS = 60;

/** An OIP v2 request carrying 3 s of real speech as FP32 (~200 KB: parsed off the JS thread). */
function speechRequest(): Buffer {
  const data = Array.from(speechSamples().subarray(0, 48000));
  return Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, data.length], data }] }));
}

function workerMain(addon: string): void {
  const b = loadBindingFrom(addon);
  const body = speechRequest();
  const weights = new Uint8Array(fs.readFileSync(path.join(PACKAGE_ROOT, 'models/vad/1/model.onnx')).subarray(0, 256 * 1024));
  const half = weights.byteLength / 2;
  const parts = [weights.subarray(0, half), weights.subarray(half)];
  const spin = (): void => {
    b.parseJsonNumberArrays(body).then(spin, () => undefined);
    b.concatAxis(parts, 1, [half, half]).then(spin, () => undefined);
  };
  for (let i = 0; i < 8; i++) spin();
  parentPort?.postMessage('busy');
}

async function childMain(addon: string): Promise<void> {
  for (let i = 0; i < TERMINATIONS; i++) {
    const w = new Worker(__filename, { workerData: { addon } });
    await new Promise<void>((resolve, reject) => {
      w.once('error', reject);
      w.once('message', () => setTimeout(resolve, i % 5));
    });
    await w.terminate();
  }
  process.stdout.write(`survived ${TERMINATIONS} terminations\n`);
}

if (!isMainThread && workerData?.addon) {
  workerMain(workerData.addon as string);
} else if (process.env[CHILD_ENV]) {
  childMain(process.env[CHILD_ENV] as string).catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
} else {
  for (const addon of ADDON_CANDIDATES.filter((f) => fs.existsSync(f))) {
    test(`terminating workers with async work in flight does not abort (${addon})`, { timeout: 120_000 }, () => {
      const r = spawnSync(process.execPath, [__filename], { env: { ...process.env, [CHILD_ENV]: addon }, encoding: 'utf8', timeout: 110_000 });
      assert.equal(r.signal, null, `child killed by ${r.signal}: ${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`survived ${TERMINATIONS} terminations`));
    });
  }
}
