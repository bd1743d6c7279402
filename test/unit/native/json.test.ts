// parseJsonNumberArrays (sync and async, every built addon) against a JSON.parse based
// TypeScript reference, on real data: speech from linphone's hello16000.wav and the
// vega-datasets cars / flights tables, shaped as Open Inference Protocol v2 requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ADDON_CANDIDATES, Binding, JSON_SYNC_THRESHOLD_BYTES, JsonNumberArrays, PACKAGE_ROOT, loadBindingFrom, parseJsonNumberArrays,
} from '../../../src/native/binding';
import { parseJsonNumberArraysRef } from '../../../src/native/reference';

const BUILDS = ADDON_CANDIDATES.filter((f) => fs.existsSync(f));
const WAV = '/usr/share/sounds/linphone/hello16000.wav';
const DATA_DIR = path.join(PACKAGE_ROOT, 'node_modules/vega-datasets/data');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** 16-bit PCM samples of a RIFF/WAVE file. */
function readPcm16(file: string): Int16Array {
  const buf = fs.readFileSync(file);
  assert.equal(buf.toString('latin1', 0, 4), 'RIFF');
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('latin1', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') assert.equal(buf.readUInt16LE(off + 8 + 14), 16, 'bits per sample');
    if (id === 'data') return new Int16Array(buf.buffer.slice(buf.byteOffset + off + 8, buf.byteOffset + off + 8 + size));
    off += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

interface Car { Name: string; Miles_per_Gallon: number | null; Cylinders: number; Horsepower: number | null; Acceleration: number; Origin: string }
const CARS = JSON.parse(fs.readFileSync(path.join(DATA_DIR, 'cars.json'), 'utf8')) as Car[];
const FLIGHTS = JSON.parse(fs.readFileSync(path.join(DATA_DIR, 'flights-2k.json'), 'utf8')) as { delay: number; distance: number; time: number }[];

/** An OIP v2 request around the speech samples: floats, ints, exponent forms, nested frames. */
function speechRequest(pcm: Int16Array): string {
  const floats = Array.from(pcm, (s) => s / 32768);
  const frames: number[][] = [];
  for (let i = 0; i + 160 <= 16000; i += 160) frames.push(Array.from(pcm.subarray(i, i + 160), (s) => s * 1e-9));
  return JSON.stringify({
    id: 'hello16000',
    inputs: [
      { name: 'audio', shape: [1, floats.length], datatype: 'FP32', data: floats },
      { name: 'pcm', shape: [pcm.length], datatype: 'INT16', data: Array.from(pcm) },
      { name: 'frames', shape: [frames.length, 160], datatype: 'FP64', data: frames },
      { name: 'loud', shape: [4000], datatype: 'FP64', data: Array.from(pcm.subarray(20000, 24000), (s) => s * 1e300) },
      { name: 'tiny', shape: [4000], datatype: 'FP64', data: Array.from(pcm.subarray(20000, 24000), (s) => s / 3e310) },
    ],
    outputs: [{ name: 'speech_prob', parameters: { binary_data: false } }],
    parameters: { note: 'keeps "data": [1, 2] inside a string', sr: 16000 },
  });
}

/** An OIP v2 request from cars.json: strings, nulls (left alone), ints, floats, booleans, rows. */
function carsRequest(cars: Car[]): string {
  const complete = cars.filter((c) => c.Horsepower !== null && c.Miles_per_Gallon !== null);
  return JSON.stringify({
    inputs: [
      { name: 'name', datatype: 'BYTES', shape: [cars.length], data: cars.map((c) => c.Name) },
      { name: 'hp', datatype: 'FP64', shape: [cars.length], data: cars.map((c) => c.Horsepower) },
      { name: 'cyl', datatype: 'INT32', shape: [cars.length], data: cars.map((c) => c.Cylinders) },
      { name: 'usa', datatype: 'BOOL', shape: [cars.length], data: cars.map((c) => c.Origin === 'USA') },
      { name: 'rows', datatype: 'FP32', shape: [complete.length, 3], data: complete.map((c) => [c.Miles_per_Gallon, c.Horsepower, c.Acceleration]) },
      { name: 'mixed', datatype: 'BYTES', shape: [2], data: [cars[0].Cylinders, cars[0].Name] },
      { name: 'empty', datatype: 'FP32', shape: [0], data: [] },
      { name: 'leafless', datatype: 'FP32', shape: [2, 0], data: [[], []] },
      { name: 'scalar', datatype: 'FP32', shape: [], data: cars[0].Acceleration },
    ],
  });
}

/** Fails with the first differing index unless both hold bitwise identical doubles. */
function assertSameDoubles(actual: Float64Array, expected: Float64Array, what: string): void {
  assert.ok(actual instanceof Float64Array, `${what}: not a Float64Array`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new BigUint64Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new BigUint64Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}[${i}]: ${actual[i]} !== ${expected[i]}`);
  }
}

/** Checks a native result against the reference; `exactText` is the expected json text. */
function assertMatchesReference(got: JsonNumberArrays, text: string, exactText?: string): void {
  const ref = parseJsonNumberArraysRef(text);
  assert.deepEqual(JSON.parse(got.json), ref.value);
  if (exactText !== undefined) assert.equal(got.json, exactText);
  assert.equal(got.arrays.length, ref.arrays.length, 'number of arrays');
  got.arrays.forEach((a, k) => assertSameDoubles(a, ref.arrays[k], `arrays[${k}]`));
  assert.deepEqual(got.nested, ref.nested);
}

const HAVE_WAV = fs.existsSync(WAV);

test('the real inputs are present', () => {
  assert.ok(BUILDS.length > 0, `no addon built; tried ${ADDON_CANDIDATES.join(', ')}`);
  assert.equal(CARS.length, 406);
  assert.ok(FLIGHTS.length >= 2000);
});

for (const file of BUILDS) {
  const b: Binding = loadBindingFrom(file);
  const tag = path.relative(PACKAGE_ROOT, file);
  const both = async (body: Uint8Array): Promise<JsonNumberArrays> => {
    const sync = b.parseJsonNumberArraysSync(body);
    const async_ = await b.parseJsonNumberArrays(body);
    assert.deepEqual(async_, sync, 'sync and async results differ');
    return async_;
  };

  test(`${tag}: speech samples parse bitwise equal to JSON.parse`, { skip: !HAVE_WAV && `${WAV} not installed` }, async () => {
    const pcm = readPcm16(WAV);
    assert.equal(pcm.length, 169984); // 339968-byte data chunk
    const text = speechRequest(pcm);
    assert.match(text, /e-\d+[,\]]/); // exponent forms are really exercised
    assert.match(text, /e\+\d+[,\]]/);
    const got = await both(enc(text));
    assertMatchesReference(got, text, JSON.stringify(parseJsonNumberArraysRef(text).value));
    assert.deepEqual(got.nested, [false, false, true, false, false]);
    assertSameDoubles(got.arrays[1], Float64Array.from(pcm), 'pcm');
  });

  test(`${tag}: cars request - strings, nulls, mixed and empty arrays stay in the text`, async () => {
    const text = carsRequest(CARS);
    const got = await both(enc(text));
    assertMatchesReference(got, text, JSON.stringify(parseJsonNumberArraysRef(text).value));
    assert.equal(got.arrays.length, 3); // cyl, usa (1/0), rows
    assert.deepEqual(got.nested, [false, false, true]);
    const header = JSON.parse(got.json);
    assert.equal(header.inputs[1].data[0], CARS[0].Horsepower); // null-holding column untouched
    assert.deepEqual(header.inputs[6].data, []);
    assert.deepEqual(header.inputs[7].data, [[], []]);
  });

  test(`${tag}: pretty-printed flights keep their whitespace`, async () => {
    const request = {
      inputs: FLIGHTS.slice(0, 300).map((f, i) => ({ name: `f${i}`, shape: [3], datatype: 'FP64', data: [f.delay, f.distance, f.time] })),
    };
    for (const indent of [2, '\t', ' \r\n ']) {
      const text = JSON.stringify(request, null, indent as string | number).replace(/\n/g, '\r\n');
      const got = await both(enc(text));
      const expected = JSON.stringify(parseJsonNumberArraysRef(text).value, null, indent as string | number).replace(/\n/g, '\r\n');
      assertMatchesReference(got, text, expected);
    }
  });

  test(`${tag}: number spellings JSON.stringify never writes`, async () => {
    // Exponent/sign spellings, values past the double range, and round-to-even cases.
    const text = `{"data":[1E5, 1e+5, -0, 0.0e0, -0.0E-0, 1e400, -1e400, 1e-400, -2e-400,
      123456789012345678901234567890, 0.1000000000000000055511151231257827021181583404541015625,
      2.2250738585072011e-308, 4.9e-324, 2.4703282292062327e-324, 2.4703282292062328e-324,
      1.7976931348623157e308, 1.7976931348623158e308, 1.7976931348623159e308, 9007199254740993,
      0.000001, 1e-7, ${Number.MIN_VALUE}, ${Number.MAX_SAFE_INTEGER}, ${-Number.EPSILON}, true, false]}`;
    const got = await both(enc(text));
    assertMatchesReference(got, text);
    assert.equal(got.json, '{"data":0}');
    assert.ok(Object.is(got.arrays[0][2], -0));
    assert.equal(got.arrays[0][5], Infinity);
    assert.ok(Object.is(got.arrays[0][8], -0));
  });

  test(`${tag}: only members named exactly "data" are lifted, at any depth`, async () => {
    const hp = CARS.slice(0, 4).map((c) => c.Cylinders);
    const texts = [
      `{"d\\u0061ta":${JSON.stringify(hp)},"DATA":${JSON.stringify(hp)},"data ":${JSON.stringify(hp)}}`,
      `[{"data":${JSON.stringify(hp)}},{"x":{"data":{"data":[[${hp}]]}}},"data",{"data":"data"}]`,
      `{"data":[{"data":[${hp}]}],"meta":{"data":[${hp},null]}}`,
      ` {"inputs" : [ { "data" : [ ${hp.join(' , ')} ] } ] } `,
    ];
    for (const text of texts) assertMatchesReference(await both(enc(text)), text);
    assert.equal((await both(enc(texts[0]))).json.startsWith('{"d\\u0061ta":0,"DATA":['), true);
    assert.equal((await both(enc(texts[3]))).json, ' {"inputs" : [ { "data" : 0 } ] } ');
  });

  test(`${tag}: a leading UTF-8 BOM is skipped and dropped from the text`, async () => {
    const text = carsRequest(CARS.slice(0, 5));
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...enc(text)]);
    assert.throws(() => JSON.parse(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bom)), SyntaxError);
    assertMatchesReference(await both(bom), text, JSON.stringify(parseJsonNumberArraysRef(text).value));
    await assert.rejects(b.parseJsonNumberArrays(bom.subarray(0, 40)), { name: 'SyntaxError', message: /^malformed JSON at byte 40 / });
  });

  test(`${tag}: BAD CALL - truncated JSON rejects at the end of the input`, async () => {
    const text = carsRequest(CARS.slice(0, 2));
    for (let n = 0; n < text.length; n++) {
      const prefix = text.slice(0, n);
      assert.throws(() => JSON.parse(prefix));
      assert.throws(() => b.parseJsonNumberArraysSync(enc(prefix)), (e: Error & { byteOffset?: number }) => {
        assert.equal(e.name, 'SyntaxError');
        assert.ok(e instanceof SyntaxError);
        assert.match(e.message, new RegExp(`^malformed JSON at byte ${n} \\(`));
        assert.equal(e.byteOffset, n);
        return true;
      }, `prefix of ${n} bytes`);
    }
    await assert.rejects(b.parseJsonNumberArrays(enc(text.slice(0, 100))), {
      name: 'SyntaxError', message: /^malformed JSON at byte 100 \(/,
    });
  });

  test(`${tag}: BAD CALL - malformed numbers, strings and structure`, async () => {
    const bad: [string, number, string][] = [
      ['{"data":[1.2.3]}', 12, "expected ',' or ']'"],
      ['{"inputs":[{"name":"audio', 25, 'unterminated string'],
      ['{"data":[1,]}', 11, 'unexpected character'],
      ['{"data":[01]}', 10, "expected ',' or ']'"],
      ['{"data":[1.]}', 11, 'invalid number'],
      ['{"data":[-]}', 10, 'invalid number'],
      ['{"data":[1e]}', 11, 'invalid number'],
      ['{"data":[NaN]}', 9, 'unexpected character'],
      ['{"data":[tru]}', 12, 'invalid literal'],
      ['{"a":"tab\tinside"}', 9, 'control character in string'],
      ['{"a":"\\x"}', 7, 'invalid escape'],
      ['{"a":"\\u12G4"}', 10, 'invalid \\u escape'],
      ["{'a':1}", 1, 'expected a string key'],
      ['{"a" 1}', 5, "expected ':'"],
      ['{"a":1 "b":2}', 7, "expected ',' or '}'"],
      ['{} x', 3, 'unexpected data after the JSON value'],
      ['', 0, 'unexpected end of input'],
      [' \r\n', 3, 'unexpected end of input'],
    ];
    for (const [text, at, detail] of bad) {
      assert.throws(() => JSON.parse(text), SyntaxError, `JSON.parse accepts ${text}`);
      const message = `malformed JSON at byte ${at} (${detail})`;
      assert.throws(() => b.parseJsonNumberArraysSync(enc(text)), { name: 'SyntaxError', message }, text);
      await assert.rejects(b.parseJsonNumberArrays(enc(text)), { name: 'SyntaxError', message }, text);
    }
  });

  test(`${tag}: BAD CALL - nesting deeper than 1024 is refused`, async () => {
    const ok = '['.repeat(1024) + ']'.repeat(1024);
    assert.equal((await both(enc(ok))).json, ok);
    // The object is level 1, so the 1024th '[' (byte 8 + 1023) would be level 1025.
    const deep = `{"data":${'['.repeat(1024)}1${']'.repeat(1024)}}`;
    await assert.rejects(b.parseJsonNumberArrays(enc(deep)), { name: 'SyntaxError', message: /^malformed JSON at byte 1031 \(nesting too deep\)$/ });
  });

  test(`${tag}: BAD CALL - body must be a Uint8Array`, () => {
    for (const body of ['{"data":[1]}', 42, new Float32Array(4), undefined]) {
      assert.throws(() => b.parseJsonNumberArraysSync(body as never), { name: 'TypeError', message: 'body must be a Uint8Array' });
      assert.throws(() => b.parseJsonNumberArrays(body as never), { name: 'TypeError' });
    }
  });
}

test('wrapper parseJsonNumberArrays: small and large bodies, errors as rejections', async () => {
  const small = carsRequest(CARS.slice(0, 3));
  const large = carsRequest(CARS);
  assert.ok(small.length < JSON_SYNC_THRESHOLD_BYTES && large.length > JSON_SYNC_THRESHOLD_BYTES);
  for (const text of [small, large]) assertMatchesReference(await parseJsonNumberArrays(enc(text)), text);
  // A Buffer is a Uint8Array; a pooled one has a non-zero byteOffset.
  assertMatchesReference(await parseJsonNumberArrays(Buffer.from(small)), small);
  let p: Promise<unknown> | undefined;
  assert.doesNotThrow(() => { p = parseJsonNumberArrays('{}' as never); });
  await assert.rejects(p!, { name: 'TypeError' });
  await assert.rejects(parseJsonNumberArrays(enc(large.slice(0, -1))), { name: 'SyntaxError', message: `malformed JSON at byte ${large.length - 1} (unexpected end of input)` });
});
