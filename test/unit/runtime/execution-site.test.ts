import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseSite, defaultInlineMaxMs, predictedMs } from '../../../src/runtime/execution-site';

// One VAD chunk: ~0.14 ms a row plus ~0.2 ms a batch on this class of CPU (bench/README.md).
const vad = { a: 0.14, b: 0.2, ready: true, maxRows: 1024 };
const unknown = { a: 0, b: 0, ready: false, maxRows: 0 };

test('a forced mode wins over the cost model', () => {
  assert.strictEqual(chooseSite({ mode: 'inline', rows: 10_000, cost: vad, cores: 16 }), 'inline');
  assert.strictEqual(chooseSite({ mode: 'pool', rows: 1, cost: vad, cores: 1 }), 'pool');
});

test('nothing measured yet: inline on one core, the pool with more', () => {
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 1, cost: unknown, cores: 1 }), 'inline');
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 1, cost: unknown, cores: 2 }), 'pool');
});

test('several cores: inline exactly while the predicted batch fits the 1 ms budget', () => {
  assert.strictEqual(defaultInlineMaxMs(2), 1);
  // 0.14·5 + 0.2 = 0.9 ms ≤ 1; 0.14·6 + 0.2 = 1.04 ms > 1.
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 5, cost: vad, cores: 2 }), 'inline');
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 6, cost: vad, cores: 2 }), 'pool');
});

test('one core: only batches predicted past 50 ms leave the event loop', () => {
  assert.strictEqual(defaultInlineMaxMs(1), 50);
  // 0.14·355 + 0.2 = 49.9 ms; 0.14·356 + 0.2 = 50.04 ms.
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 355, cost: vad, cores: 1 }), 'inline');
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 356, cost: vad, cores: 1 }), 'pool');
});

test("model.json's inline_max_ms replaces the default budget", () => {
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 1, cost: vad, cores: 1, inlineMaxMs: 0.3 }), 'pool');
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 19, cost: vad, cores: 8, inlineMaxMs: 3 }), 'inline');
});

test('past the largest batch seen, cost grows at least in proportion (a model fitted on one size has no slope)', () => {
  // Only batches of one were seen, 0.5 ms each: fitLine gives a = 0, b = 0.5.
  const flat = { a: 0, b: 0.5, ready: true, maxRows: 1 };
  assert.strictEqual(predictedMs(flat, 1), 0.5);
  assert.strictEqual(predictedMs(flat, 24), 12);
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 1, cost: flat, cores: 2 }), 'inline');
  assert.strictEqual(chooseSite({ mode: 'auto', rows: 24, cost: flat, cores: 2 }), 'pool');
  // Within the seen range the fit is used as it is.
  assert.strictEqual(predictedMs(vad, 10), 0.14 * 10 + 0.2);
});
