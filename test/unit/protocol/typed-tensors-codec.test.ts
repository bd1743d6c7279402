import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { decodeInferRequest, encodeInferResponse } from '../../../src/protocol/oip-codec';
import { InferaError } from '../../../src/errors';
import { halfValue } from '../../../src/protocol/half';
import { speechChunks } from '../../helpers/vad';
import { lengthPrefixed } from '../../helpers/bytes-tensor';

/** Real strings: the origin airports of the committed flights model's fitted vocabulary. */
function airports(): string[] {
  const spec = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../../models/flights-delay/1/feature_spec.json'), 'utf8'));
  const block = spec.blocks.find((b: { input: string; kind: string }) => b.input === 'origin' && b.kind === 'categorical');
  return block.vocabulary;
}

function binaryBody(header: object, blob: Uint8Array): { body: Buffer; len: string } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, blob]), len: String(json.byteLength) };
}

async function rejects(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof InferaError && e.code === code && e.status === 400 && pattern.test(e.message));
}

test('BYTES: JSON strings (flat or nested) and length-prefixed binary decode to the same strings; both encode back', async () => {
  const codes = [...airports().slice(0, 6), 'Zürich', ''];
  const json = await decodeInferRequest(Buffer.from(JSON.stringify({ inputs: [{ name: 'code', datatype: 'BYTES', shape: [4, 2], data: [[codes[0], codes[1]], [codes[2], codes[3]], [codes[4], codes[5]], [codes[6], codes[7]]] }] })), {});
  assert.deepEqual(json.inputs[0].data, codes);
  const { body, len } = binaryBody({ inputs: [{ name: 'code', datatype: 'BYTES', shape: [8, 1], parameters: { binary_data_size: lengthPrefixed(codes.map((c) => Buffer.from(c))).byteLength } }] }, lengthPrefixed(codes.map((c) => Buffer.from(c))));
  const bin = await decodeInferRequest(body, { inferenceHeaderLength: len });
  assert.deepEqual(bin.inputs[0].data, codes);

  const out = { name: 'code_out', datatype: 'BYTES' as const, shape: [8, 1], data: codes };
  const asJson = JSON.parse(encodeInferResponse('airports', 1, undefined, [out], () => false).body.toString());
  assert.deepEqual(asJson.outputs[0].data, codes);
  const asBin = encodeInferResponse('airports', 1, undefined, [out], () => true);
  assert.deepEqual(asBin.body.subarray(asBin.inferenceHeaderLength!), lengthPrefixed(codes.map((c) => Buffer.from(c))));
});

test('BYTES: every malformed case is a 400 naming the tensor', async () => {
  const codes = airports().slice(0, 3).map((c) => Buffer.from(c));
  const blob = lengthPrefixed(codes);
  const send = (shape: number[], b: Uint8Array) => {
    const { body, len } = binaryBody({ inputs: [{ name: 'code', datatype: 'BYTES', shape, parameters: { binary_data_size: b.byteLength } }] }, b);
    return decodeInferRequest(body, { inferenceHeaderLength: len });
  };
  await rejects(send([4], blob), 'ENG_ERR_BAD_TENSOR', /'code'.*holds 4 BYTES elements, got 3/);
  await rejects(send([2], blob), 'ENG_ERR_BAD_TENSOR', /'code'.*more than the 2 BYTES elements/);
  const long = Buffer.from(blob);
  long.writeUInt32LE(1000, 0);
  await rejects(send([3], long), 'ENG_ERR_BAD_TENSOR', /element 0 is 1000 bytes long but only \d+ remain/);
  await rejects(send([3], blob.subarray(0, blob.byteLength - 1)), 'ENG_ERR_BAD_TENSOR', /element 2 is 3 bytes long but only 2 remain/);
  await rejects(send([4], Buffer.concat([blob, Buffer.from([1, 0])])), 'ENG_ERR_BAD_TENSOR', /element 3 has a 2-byte length prefix/);
  // Latin-1 "Ö" (0xD6) alone is not UTF-8.
  await rejects(send([1], lengthPrefixed([Buffer.from([0xd6, 0x52, 0x44])])), 'ENG_ERR_BAD_TENSOR', /element 0 is not valid UTF-8/);
  await rejects(decodeInferRequest(Buffer.from(JSON.stringify({ inputs: [{ name: 'code', datatype: 'BYTES', shape: [2], data: ['ORD', 7] }] })), {}), 'ENG_ERR_BAD_TENSOR', /element 1 is number, expected a string/);
  await rejects(decodeInferRequest(Buffer.from(JSON.stringify({ inputs: [{ name: 'code', datatype: 'BYTES', shape: [3], data: ['ORD', 'LAX'] }] })), {}), 'ENG_ERR_BAD_TENSOR', /needs 3 elements, data has 2/);
  await rejects(decodeInferRequest(Buffer.from(JSON.stringify({ inputs: [{ name: 'code', datatype: 'BYTES', shape: [1], data: 'ORD' }] })), {}), 'ENG_ERR_BAD_TENSOR', /array of strings/);
});

test('FP16: JSON numbers round to the nearest half; raw binary halves pass through; outputs decode exactly', async () => {
  const speech = speechChunks()[8].subarray(0, 64);
  const req = await decodeInferRequest(Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP16', shape: [1, 64], data: Array.from(speech) }] })), {});
  const halves = req.inputs[0].data as Uint16Array;
  assert.ok(halves instanceof Uint16Array);
  for (let i = 0; i < speech.length; i++) {
    // Nearest: no other half is closer (checked against both neighbours of the chosen bits).
    const v = halfValue(halves[i]);
    const err = Math.abs(v - speech[i]);
    for (const n of [halves[i] - 1, halves[i] + 1]) if ((n & 0x7c00) !== 0x7c00 && n >= 0 && n < 0x10000 && ((n ^ halves[i]) & 0x8000) === 0) assert.ok(Math.abs(halfValue(n) - speech[i]) >= err, `element ${i}`);
  }
  const raw = Buffer.from(halves.buffer, halves.byteOffset, halves.byteLength);
  const { body, len } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP16', shape: [1, 64], parameters: { binary_data_size: raw.byteLength } }] }, raw);
  const bin = await decodeInferRequest(body, { inferenceHeaderLength: len });
  assert.deepEqual(Array.from(bin.inputs[0].data as Uint16Array), Array.from(halves));

  const out = JSON.parse(encodeInferResponse('m', 1, undefined, [{ name: 'y', datatype: 'FP16', shape: [1, 64], data: halves }], () => false).body.toString());
  assert.deepEqual(out.outputs[0].data, Array.from(halves, halfValue));
  await rejects(decodeInferRequest(Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP16', shape: [2], data: [1, 70000] }] })), {}), 'ENG_ERR_BAD_TENSOR', /element 1 \(70000\) is outside the FP16 range/);
  await rejects(decodeInferRequest(body.subarray(0, body.byteLength - 1), { inferenceHeaderLength: len }), 'ENG_ERR_BAD_TENSOR', /runs past the end/);
});

test('BF16 stays 501: onnxruntime-node has no bfloat16 tensor', async () => {
  await assert.rejects(decodeInferRequest(Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'BF16', shape: [1], data: [1] }] })), {}), (e: unknown) => e instanceof InferaError && e.status === 501 && /onnxruntime-node has no bfloat16/.test(e.message));
});
