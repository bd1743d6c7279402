import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptivePolicy, adaptiveDecide, predictCompletion } from '../../../src/batching/adaptive-policy';
import { QueuedView } from '../../../src/batching/batch-policy';
import { CostModel, CostSnapshot, fitLine } from '../../../src/batching/cost-model';

/** cost(n) = a·n + b, ready, with a known arrival gap. */
const model = (a: number, b: number, gapMs = Infinity, lastArrival = -Infinity): CostSnapshot => ({ a, b, ready: true, gapMs, lastArrival });
const q = (n: number, at = 0, key = 'k'): QueuedView[] => Array.from({ length: n }, () => ({ rows: 1, enqueuedAt: at, key }));

test('least squares recovers cost = a·n + b; one batch size means constant cost; slopes never go negative', (t) => {
  const xs = [1, 2, 4, 8, 16];
  const f = fitLine(xs, xs.map((n) => 0.25 * n + 1.5));
  assert.ok(Math.abs(f.a - 0.25) < 1e-12 && Math.abs(f.b - 1.5) < 1e-12, JSON.stringify(f));
  assert.deepStrictEqual(fitLine([4, 4, 4], [2, 3, 4]), { a: 0, b: 3 });
  assert.deepStrictEqual(fitLine([1, 2, 3], [3, 2, 1]), { a: 0, b: 2 });
  // A negative intercept is refitted through the origin.
  const o = fitLine([1, 2, 3], [1, 3, 5]);
  assert.strictEqual(o.b, 0);
  assert.ok(o.a > 0);
});

test('the cost model follows the recent window, needs a few batches, and averages arrival gaps', (t) => {
  const m = new CostModel({ window: 4, minSamples: 3, gapAlpha: 0.5 });
  m.observeBatch(1, 2);
  m.observeBatch(2, 3);
  assert.strictEqual(m.snapshot().ready, false);
  m.observeBatch(3, 4);
  assert.deepStrictEqual([m.snapshot().a, m.snapshot().b, m.snapshot().ready], [1, 1, true]);
  // Four new batches on a slower machine replace the old ones entirely.
  for (const n of [1, 2, 3, 4]) m.observeBatch(n, 2 * n + 5);
  const s = m.snapshot();
  assert.ok(Math.abs(s.a - 2) < 1e-9 && Math.abs(s.b - 5) < 1e-9, JSON.stringify(s));
  m.observeArrival(10);
  assert.strictEqual(m.snapshot().gapMs, Infinity);
  m.observeArrival(14);
  m.observeArrival(16);
  assert.deepStrictEqual([m.snapshot().gapMs, m.snapshot().lastArrival], [3, 16]);
});

test('cold start: dispatches what it has so that the cost model can learn', (t) => {
  const cold = { ...model(1, 1), ready: false };
  assert.deepStrictEqual(adaptiveDecide(q(3), 0, cold, { maxBatchSize: 8, latencySloMs: 100 }), { kind: 'dispatch', count: 3, rows: 3 });
});

test('caps the batch so that its members still meet the objective', (t) => {
  // cost(n) = n + 2; objective 10 ms after arrival at 0: at most 8 rows complete by 10.
  assert.deepStrictEqual(adaptiveDecide(q(12), 0, model(1, 2), { maxBatchSize: 16, latencySloMs: 10 }), { kind: 'dispatch', count: 8, rows: 8 });
  // A request's own (shorter) timeout is its objective.
  const queue = q(6);
  queue[0].deadline = 5;
  assert.deepStrictEqual(adaptiveDecide(queue, 0, model(1, 2), { maxBatchSize: 16, latencySloMs: 10 }), { kind: 'dispatch', count: 3, rows: 3 });
});

test('waits for the next expected arrival only when it comes before the latest safe start', (t) => {
  const cfg = { maxBatchSize: 64, latencySloMs: 50 };
  // Arrivals every 0.5 ms, the last at 5 (the server falls behind: cost(3) = 2.5 > 3 · 0.5):
  // the next is due at 5.5, well before 50 - cost(4).
  assert.deepStrictEqual(adaptiveDecide(q(3, 0), 5, model(0.5, 1, 0.5, 5), cfg), { kind: 'wait', waitMs: 0.5 });
  // Arrivals every 100 ms: waiting would break the objective.
  assert.deepStrictEqual(adaptiveDecide(q(3, 0), 5, model(0.5, 1, 100, 5), cfg), { kind: 'dispatch', count: 3, rows: 3 });
  // The expected arrival is overdue: stop waiting.
  assert.deepStrictEqual(adaptiveDecide(q(3, 0), 8, model(0.5, 1, 0.5, 5), cfg), { kind: 'dispatch', count: 3, rows: 3 });
  // No arrival rate known yet.
  assert.deepStrictEqual(adaptiveDecide(q(3, 0), 5, model(0.5, 1), cfg), { kind: 'dispatch', count: 3, rows: 3 });
});

test('dispatches at once while the server keeps up at the current batch size (cost(n) ≤ n · gap)', (t) => {
  const cfg = { maxBatchSize: 64, latencySloMs: 50 };
  // cost(3) = 2.5 ms; arrivals every 2 ms: the next 3 rows take 6 ms to come. Waiting buys nothing.
  assert.deepStrictEqual(adaptiveDecide(q(3, 0), 5, model(0.5, 1, 2, 5), cfg), { kind: 'dispatch', count: 3, rows: 3 });
  // Exactly at the boundary: cost(4) = 3 = 4 · 0.75 still keeps up.
  assert.deepStrictEqual(adaptiveDecide(q(4, 0), 5, model(0.5, 1, 0.75, 5), cfg), { kind: 'dispatch', count: 4, rows: 4 });
  // Just past it (gap 0.74), the policy waits for the next arrival.
  assert.strictEqual(adaptiveDecide(q(4, 0), 5, model(0.5, 1, 0.74, 5), cfg).kind, 'wait');
});

test('dispatches without waiting when the batch is efficient, full, blocked or late', (t) => {
  const m = model(1, 1, 0.5, 0);
  const cfg = { maxBatchSize: 64, latencySloMs: 1000 };
  // n ≥ 0.9·b / (0.1·a) = 9 rows reach 90 % of the asymptotic throughput.
  assert.deepStrictEqual(adaptiveDecide(q(9), 0.1, m, cfg), { kind: 'dispatch', count: 9, rows: 9 });
  assert.strictEqual(adaptiveDecide(q(8), 0.1, m, cfg).kind, 'wait');
  assert.deepStrictEqual(adaptiveDecide(q(4), 0.1, m, { maxBatchSize: 4, latencySloMs: 1000 }), { kind: 'dispatch', count: 4, rows: 4 });
  assert.deepStrictEqual(adaptiveDecide([...q(2, 0, 'a'), ...q(1, 0, 'b')], 0.1, m, cfg), { kind: 'dispatch', count: 2, rows: 2 });
  // The oldest request can no longer make its objective: waiting only makes it later.
  const late = [{ rows: 1, enqueuedAt: -1000, key: 'k' }, ...q(2)];
  assert.deepStrictEqual(adaptiveDecide(late, 0.1, m, cfg), { kind: 'dispatch', count: 3, rows: 3 });
  assert.deepStrictEqual(adaptiveDecide([], 0, m, cfg), { kind: 'idle' });
});

test('predicted completion list-schedules rows ahead and running batches on the executors', (t) => {
  const m = model(1, 2);
  // One idle executor, 10 rows ahead + 1, batches of 4: 4+4+3 rows → (6) + (6) + (5) = 17.
  assert.strictEqual(predictCompletion(q(10), 1, [], 1, 0, m, 4), 17);
  // Two executors, one busy until 2 + cost(4) = 8: batches go to 0 → 6, then 6 → 12, then 8 → 13.
  assert.strictEqual(predictCompletion(q(10), 1, [{ rows: 4, startedAt: 2 }], 2, 0, m, 4), 13);
  assert.strictEqual(predictCompletion(q(10), 1, [], 1, 0, { ...m, ready: false }, 4), undefined);
  const p = new AdaptivePolicy({ maxBatchSize: 4, latencySloMs: 10 });
  assert.strictEqual(p.objective({ rows: 1, enqueuedAt: 5, key: 'k' }), 15);
  assert.strictEqual(p.objective({ rows: 1, enqueuedAt: 5, key: 'k', deadline: 8 }), 8);
});
