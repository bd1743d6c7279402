// The BYTES and FP16 models of scripts/build-typed-models.ts (issue 15), built into a temp
// repository and run in process by onnxruntime-node:
// - airports: the origin vocabulary fitted on the real 2001 flights as a string → index →
//   string lookup; the reference is the vocabulary read straight from feature_spec.json.
// - flights-delay-fp16: the committed MLP behind FP16 input/output; the reference is the FP32
//   model on the same real February rows, and a half conversion written here (round to
//   nearest, ties to even), independent of onnxruntime's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { BuiltModels, buildTypedModels, UNKNOWN_CODE, UNKNOWN_INDEX } from '../../scripts/build-typed-models';
import { FLIGHTS_DIR, FLIGHTS_ONNX, februaryRows, flightsMissing } from './native/flights-model';

const skip = flightsMissing();
/** February rows through the FP16 model. */
const ROWS = 2000;
/**
 * |FP16 model − FP32 model| on a probability. The output's own rounding is at most half a half-
 * ulp: 2^-12 for p in [0.5, 1), less below. The inputs' rounding (relative ≤ 2^-11 on the
 * scaled distance and the cyclic sin/cos; one-hot 0/1 exact) moves the logit by a few 1e-4 at
 * most through these weights, and dp/dlogit ≤ 1/4. Measured: see the log line of the test.
 */
const FP16_TOLERANCE = 2e-3;

let dir: string;
let built: BuiltModels;
let vocabulary: string[];

before(() => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-typed-'));
  built = buildTypedModels(dir);
  const spec = JSON.parse(fs.readFileSync(path.join(FLIGHTS_DIR, 'feature_spec.json'), 'utf8'));
  vocabulary = spec.blocks.find((b: { kind: string; input: string }) => b.kind === 'categorical' && b.input === 'origin').vocabulary;
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** float32 → IEEE half bits, round to nearest, ties to even (subnormals, overflow to ±inf). */
function toHalf(x: number): number {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    let m = mant >>> shift;
    if (rest > halfway || (rest === halfway && (m & 1) === 1)) m++;
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry into the exponent is right, up to inf
  return h;
}

function fromHalf(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A float16 tensor's bits, whichever array type onnxruntime-node hands back. */
function halfBits(t: ort.Tensor): Uint16Array {
  const d = t.data as ArrayBufferView;
  if (d instanceof Uint16Array) return d;
  return new Uint16Array(d.buffer, d.byteOffset, d.byteLength / 2);
}

test('the test\'s own half conversion: known encodings', () => {
  const cases: [number, number][] = [[0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [1 / 3, 0x3555], [65504, 0x7bff], [65520, 0x7c00],
    [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001], [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [Infinity, 0x7c00]];
  for (const [x, bits] of cases) assert.equal(toHalf(x), bits, `toHalf(${x})`);
  for (let h = 0; h < 0x7c00; h++) assert.equal(toHalf(fromHalf(h)), h, `half ${h} round trip`);
});

test('airports: every vocabulary code → its position and back; unknown strings → -1 / UNKNOWN', { skip }, async () => {
  const config = JSON.parse(fs.readFileSync(path.join(built.airports, 'model.json'), 'utf8'));
  assert.deepEqual(config.inputs, [{ name: 'code', datatype: 'BYTES', shape: [-1, 1] }]);
  assert.deepEqual(config.outputs.map((o: { datatype: string }) => o.datatype), ['INT64', 'BYTES']);
  assert.equal(built.vocabularySize, vocabulary.length);

  const session = await ort.InferenceSession.create(path.join(built.airports, '1', 'model.onnx'));
  try {
    assert.deepEqual(session.inputNames, ['code']);
    assert.deepEqual(session.outputNames, ['index', 'code_out']);
    // A lower-case, a padded and a non-ASCII spelling of real codes, an empty string: the
    // feature transform would normalise the first two, this model matches bytes only.
    const unknown = ['ord', ' ORD', 'ORD ', 'ÖRD', '', 'UNKNOWN', 'ORDX'];
    const codes = [...vocabulary, ...unknown];
    const out = await session.run({ code: new ort.Tensor('string', codes, [codes.length, 1]) });
    assert.equal(out.index.type, 'int64');
    assert.deepEqual(out.index.dims, [codes.length, 1]);
    assert.equal(out.code_out.type, 'string');
    assert.deepEqual(out.code_out.dims, [codes.length, 1]);
    const index = Array.from(out.index.data as BigInt64Array, Number);
    const back = out.code_out.data as string[];
    codes.forEach((c, i) => {
      const expected = vocabulary.indexOf(c);
      assert.equal(index[i], expected === -1 ? UNKNOWN_INDEX : expected, `index of ${JSON.stringify(c)}`);
      assert.equal(back[i], expected === -1 ? UNKNOWN_CODE : c, `code_out of ${JSON.stringify(c)}`);
    });
    assert.ok(unknown.every((c) => vocabulary.indexOf(c) === -1));
  } finally {
    await session.release();
  }
});

test('airports: the origin codes of real February flights, one batch of distinct codes', { skip }, async () => {
  const rows = await februaryRows(ROWS);
  const codes = [...new Set(Array.from(rows.columns.origin as ArrayLike<string>))];
  // The vocabulary keeps the frequent January airports: some real February origins are not in it (15 of 165).
  assert.ok(codes.some((c) => !vocabulary.includes(c)) && codes.some((c) => vocabulary.includes(c)));
  const session = await ort.InferenceSession.create(path.join(built.airports, '1', 'model.onnx'));
  try {
    const out = await session.run({ code: new ort.Tensor('string', codes, [codes.length, 1]) });
    const index = Array.from(out.index.data as BigInt64Array, Number);
    codes.forEach((c, i) => assert.equal(index[i], vocabulary.indexOf(c), c));
    assert.deepEqual(out.code_out.data, codes.map((c) => (vocabulary.includes(c) ? c : UNKNOWN_CODE)));
  } finally {
    await session.release();
  }
});

test('flights-delay-fp16: FP16 in/out of the trained MLP on real February rows vs the FP32 model', { skip }, async () => {
  const config = JSON.parse(fs.readFileSync(path.join(built.fp16, 'model.json'), 'utf8'));
  assert.equal(config.predict, undefined);
  assert.equal(config.feature_spec, undefined);
  const d = await februaryRows(ROWS);
  assert.deepEqual(config.inputs, [{ name: 'features', datatype: 'FP16', shape: [-1, d.width] }]);
  assert.deepEqual(config.outputs, [{ name: 'probability', datatype: 'FP16', shape: [-1, 1] }]);

  const xHalf = Uint16Array.from(d.x, toHalf);
  // The half inputs are exact where they should be: one-hot 0/1.
  for (let i = 0; i < d.x.length; i++) if (d.x[i] === 0 || d.x[i] === 1) assert.equal(fromHalf(xHalf[i]), d.x[i]);
  const xRounded = Float32Array.from(xHalf, fromHalf);

  const fp16 = await ort.InferenceSession.create(path.join(built.fp16, '1', 'model.onnx'));
  const fp32 = await ort.InferenceSession.create(FLIGHTS_ONNX);
  try {
    const out = (await fp16.run({ features: new ort.Tensor('float16', xHalf, [d.rows, d.width]) })).probability;
    assert.equal(out.type, 'float16');
    assert.deepEqual(out.dims, [d.rows, 1]);
    const bits = halfBits(out);
    const reference = (await fp32.run({ features: new ort.Tensor('float32', d.x, [d.rows, d.width]) })).probability.data as Float32Array;
    // The same FP32 graph on the half-rounded inputs, rounded to half here: what the casts around it must give.
    const onRounded = (await fp32.run({ features: new ort.Tensor('float32', xRounded, [d.rows, d.width]) })).probability.data as Float32Array;
    let maxDiff = 0;
    let bitsDiffer = 0;
    for (let i = 0; i < d.rows; i++) {
      const p = fromHalf(bits[i]);
      assert.ok(Number.isFinite(p) && p >= 0 && p <= 1, `row ${i}: half bits 0x${bits[i].toString(16)} = ${p}`);
      maxDiff = Math.max(maxDiff, Math.abs(p - reference[i]));
      if (bits[i] !== toHalf(onRounded[i])) bitsDiffer++;
    }
    console.log(`fp16 vs fp32 over ${d.rows} rows: max |Δp| ${maxDiff.toExponential(3)}; ${bitsDiffer} outputs differ from the reference half rounding`);
    assert.ok(maxDiff <= FP16_TOLERANCE, `max |fp16 - fp32| = ${maxDiff}`);
    assert.equal(bitsDiffer, 0, 'Cast(FLOAT16) of the FP32 graph on the rounded inputs = round-to-nearest-even of the same graph');
  } finally {
    await fp16.release();
    await fp32.release();
  }
});
