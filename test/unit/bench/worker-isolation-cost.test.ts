/**
 * bench/tools/worker-isolation-cost.ts verifies its answers: the same real VAD batches
 * (1536-sample chunks of hello16000.wav, batch 1 and 16) run in process, in a worker thread
 * and in two kinds of child process return bit-identical outputs; and the tool itself, run
 * for a handful of batches, reports no mismatch. No timing is asserted.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findRepoRoot } from '../../../bench/lib/machine';
import {
  FrameReader,
  PATHS,
  freshCopy,
  sameOutputs,
  startRunner,
  vadWorkload,
  writeFrame,
  type Batch,
  type CaseResult,
  type PathName,
  type Runner,
} from '../../../bench/tools/worker-isolation-cost';
import { PassThrough } from 'node:stream';

const root = findRepoRoot(__dirname);

describe('worker-isolation-cost: answers of every path', () => {
  const runners = {} as Record<PathName, Runner>;
  const model = path.join(root, 'models/vad/1/model.onnx');

  before(async () => {
    for (const p of PATHS) runners[p] = await startRunner(p, model);
  });
  after(async () => {
    for (const p of PATHS) await runners[p]?.close();
  });

  for (const rows of [1, 16]) {
    it(`VAD batch ${rows}: in process, worker thread, fork IPC and pipe frames answer bit for bit alike`, async () => {
      const w = vadWorkload(root, rows);
      assert.ok(w.feeds.length >= 3);
      for (const feed of w.feeds.slice(0, 3)) {
        const answers: Record<string, Batch> = {};
        for (const p of PATHS) answers[p] = (await runners[p].run(freshCopy(feed))).outputs;
        assert.deepEqual(answers.inproc.map((t) => [t.name, t.datatype, t.shape]), [
          ['output', 'FP32', [rows, 1]],
          ['hn', 'FP32', [2, rows, 64]],
          ['cn', 'FP32', [2, rows, 64]],
        ]);
        for (const p of PATHS) assert.equal(sameOutputs(answers.inproc, answers[p]), null, `${p} differs from in process`);
        // speech probabilities, not zeros or garbage
        const probs = answers.inproc[0].data as Float32Array;
        assert.ok(probs.every((x) => x >= 0 && x <= 1));
      }
    });
  }

  it('a bit flip is seen as a mismatch', async () => {
    const feed = vadWorkload(root, 1).feeds[0];
    const a = (await runners.inproc.run(freshCopy(feed))).outputs;
    const b = (await runners.pipe.run(freshCopy(feed))).outputs;
    const flipped = new Float32Array((b[1].data as Float32Array).slice());
    new Uint32Array(flipped.buffer)[5] ^= 1;
    assert.match(sameOutputs(a, [b[0], { ...b[1], data: flipped }, b[2]]) ?? '', /hn: bytes differ/);
  });
});

describe('worker-isolation-cost: binary frames', () => {
  it('survive being cut into arbitrary chunks, INT64 included, views 8-aligned', () => {
    const out = new PassThrough();
    const got: { id: number; t: Batch }[] = [];
    const reader = new FrameReader((h, t) => got.push({ id: h.id, t }));
    const tensors: Batch = [
      { name: 'x', datatype: 'FP32', shape: [3], data: Float32Array.from([1.5, -2, 3]) },
      { name: 'sr', datatype: 'INT64', shape: [], data: BigInt64Array.from([16000n]) },
    ];
    writeFrame(out, { id: 7 }, tensors);
    writeFrame(out, { id: 8 }, []);
    const all: Buffer[] = [];
    let c: Buffer | null;
    while ((c = out.read() as Buffer | null)) all.push(c);
    const whole = Buffer.concat(all);
    for (let i = 0; i < whole.length; i += 3) reader.push(whole.subarray(i, i + 3));
    assert.equal(got.length, 2);
    assert.equal(got[0].id, 7);
    assert.deepEqual(Array.from(got[0].t[0].data as Float32Array), [1.5, -2, 3]);
    assert.equal((got[0].t[1].data as BigInt64Array)[0], 16000n);
    assert.equal((got[0].t[1].data as BigInt64Array).byteOffset % 8, 0);
    assert.deepEqual(got[1], { id: 8, t: [] });
  });
});

describe('worker-isolation-cost: the tool', () => {
  it('runs a handful of batches on the real VAD model and reports no mismatch', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infera-isolation-'));
    try {
      const json = path.join(dir, 'r.json');
      const r = spawnSync(
        process.execPath,
        [path.join(root, 'dist/bench/tools/worker-isolation-cost.js'), '--models', 'vad', '--sizes', '1,16', '--batches', '12', '--block', '4', '--warmup', '2', '--no-pin', '--json', json],
        { encoding: 'utf8', timeout: 120_000 },
      );
      assert.equal(r.status, 0, r.stderr + r.stdout);
      const doc = JSON.parse(readFileSync(json, 'utf8')) as { cases: CaseResult[] };
      assert.deepEqual(doc.cases.map((c) => [c.model, c.rows]), [['vad', 1], ['vad', 16]]);
      for (const c of doc.cases) {
        assert.deepEqual(c.paths.map((p) => p.path), [...PATHS]);
        for (const p of c.paths) {
          assert.equal(p.batches, 12);
          assert.equal(p.mismatches, 0);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
