import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StaticPolicy, QueuedView, gather } from '../../../src/batching/batch-policy';

const q = (rows: number[], at = 0, key = 'k'): QueuedView[] => rows.map((r) => ({ rows: r, enqueuedAt: at, key }));

test('dispatches at once when the batch is full', (t) => {
  const p = new StaticPolicy({ maxBatchSize: 4, maxQueueDelayMs: 100, preferredBatchSizes: [] });
  assert.deepStrictEqual(p.decide(q([1, 1, 1, 1, 1]), 0), { kind: 'dispatch', count: 4, rows: 4 });
});

test('waits for the remaining queue delay, then dispatches what it has', (t) => {
  const p = new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 10, preferredBatchSizes: [] });
  assert.deepStrictEqual(p.decide(q([1, 2], 100), 104), { kind: 'wait', waitMs: 6 });
  assert.deepStrictEqual(p.decide(q([1, 2], 100), 110), { kind: 'dispatch', count: 2, rows: 3 });
});

test('a preferred batch size dispatches before the delay runs out', (t) => {
  const p = new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 10, preferredBatchSizes: [2, 4] });
  assert.deepStrictEqual(p.decide(q([1, 1], 0), 1), { kind: 'dispatch', count: 2, rows: 2 });
  assert.deepStrictEqual(p.decide(q([1, 1, 1], 0), 1), { kind: 'wait', waitMs: 9 });
});

test('never splits a request: the next one that does not fit starts the next batch', (t) => {
  const p = new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 10, preferredBatchSizes: [] });
  assert.deepStrictEqual(p.decide(q([3, 4, 2]), 0), { kind: 'dispatch', count: 2, rows: 7 });
});

test('requests with different batch keys are not batched together', (t) => {
  const queue = [...q([1, 1], 0, 'sr=16000'), ...q([1], 0, 'sr=8000')];
  assert.deepStrictEqual(gather(queue, 8), { count: 2, rows: 2, blocked: true });
  const p = new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 10, preferredBatchSizes: [] });
  assert.deepStrictEqual(p.decide(queue, 0), { kind: 'dispatch', count: 2, rows: 2 });
});

test('max_batch_size 0 runs requests one by one, without waiting', (t) => {
  const p = new StaticPolicy({ maxBatchSize: 0, maxQueueDelayMs: 10, preferredBatchSizes: [] });
  assert.deepStrictEqual(p.decide(q([5, 5]), 0), { kind: 'dispatch', count: 1, rows: 5 });
});

test('an empty queue is idle; a zero delay dispatches immediately', (t) => {
  const p = new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 0, preferredBatchSizes: [] });
  assert.deepStrictEqual(p.decide([], 0), { kind: 'idle' });
  assert.deepStrictEqual(p.decide(q([1]), 0), { kind: 'dispatch', count: 1, rows: 1 });
});
