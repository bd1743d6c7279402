// Batch assembly on the event loop (inline, what a one-core process or an inline batch does)
// and on the libuv pool give the same bytes, above the size at which the pool was the only
// path: 40 requests of real flights rows through the served feature spec (~9.8 KB a row),
// against the scalar reference of concatAxis and sliceAxis.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import { assembleInput, scatterOutput } from '../../../src/batching/batch-assembly';
import { loadFeatureSpec, transform } from '../../../src/features';
import { BATCH_SYNC_THRESHOLD_BYTES } from '../../../src/native/binding';
import { concatAxisRef, sliceAxisRef } from '../../../src/native/reference';
import type { Tensor } from '../../../src/protocol/datatypes';
import { columnsOf, loadFlights } from '../features/flights-data';
import { MODELS } from '../../helpers/server';

const bytes = (t: Tensor) => new Uint8Array((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset, (t.data as Float32Array).byteLength);

test('assembleInput and scatterOutput: inline and on the pool equal the reference on real feature rows above the sync threshold', async () => {
  const spec = loadFeatureSpec(path.join(MODELS, 'flights-delay/1/feature_spec.json'));
  const f = await loadFlights({ from: '2001-03-05', to: '2001-03-06' }, 80);
  const all = transform(spec, columnsOf(f));
  // 40 requests of 1-3 rows each, in order.
  const parts: Tensor[] = [];
  const rows: number[] = [];
  for (let r = 0, i = 0; r < f.rows && parts.length < 40; i++) {
    const n = Math.min(1 + (i % 3), f.rows - r);
    parts.push({ name: 'features', datatype: 'FP32', shape: [n, all.width], data: all.data.slice(r * all.width, (r + n) * all.width) });
    rows.push(n);
    r += n;
  }
  const total = parts.reduce((s, p) => s + bytes(p).byteLength, 0);
  assert.ok(total > 4 * BATCH_SYNC_THRESHOLD_BYTES, `${total} bytes`);
  const want = concatAxisRef(parts.map(bytes), 1, parts.map((p) => bytes(p).byteLength));
  for (const inline of [true, false]) {
    const whole = await assembleInput(parts, 0, inline);
    assert.deepStrictEqual(whole.shape, [rows.reduce((a, b) => a + b, 0), all.width]);
    assert.deepStrictEqual(bytes(whole), want, `assembled, inline ${inline}`);
    const back = await scatterOutput(whole, 0, rows, inline);
    const ref = sliceAxisRef(want, 1, rows.map((n) => n * all.width * 4));
    back.forEach((t, i) => {
      assert.deepStrictEqual(t.shape, [rows[i], all.width]);
      assert.deepStrictEqual(bytes(t), ref[i], `piece ${i}, inline ${inline}`);
      assert.deepStrictEqual(bytes(t), bytes(parts[i]));
    });
  }
});
