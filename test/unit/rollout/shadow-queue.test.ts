// The shadow queue's rules: one batch in flight, batches formed from what waited, whole
// requests up to the row limit, drops beyond the pending bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShadowQueue, shadowLimits, SHADOW_MAX_BATCH_ROWS } from '../../../src/rollout/shadow-queue';

interface Item {
  rows: number;
  id: number;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A queue whose runs take `runMs` and are recorded as lists of item ids. */
function recorder(limits: { maxBatchRows: number; maxPendingRows: number; maxDelayMs: number }, runMs = 5) {
  const batches: number[][] = [];
  const dropped: number[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const q = new ShadowQueue<Item>(
    async (batch) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      batches.push(batch.map((b) => b.id));
      await tick(runMs);
      concurrent--;
    },
    limits,
    (item) => dropped.push(item.id),
  );
  return { q, batches, dropped, maxConcurrent: () => maxConcurrent };
}

test('what arrives during a run waits and runs as the next batch, one batch at a time', async () => {
  const r = recorder({ maxBatchRows: 32, maxPendingRows: 128, maxDelayMs: 2 });
  r.q.offer({ rows: 1, id: 0 });
  await tick(4); // the first batch is running
  for (let i = 1; i <= 10; i++) r.q.offer({ rows: 1, id: i });
  assert.deepEqual(r.batches, [[0]]);
  await tick(30);
  assert.deepEqual(r.batches, [[0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
  assert.equal(r.maxConcurrent(), 1);
  assert.equal(r.q.waiting, 0);
});

test('a batch holds whole requests up to maxBatchRows; a larger request runs alone', async () => {
  const r = recorder({ maxBatchRows: 8, maxPendingRows: 100, maxDelayMs: 50 });
  for (const [id, rows] of [[0, 3], [1, 3], [2, 3], [3, 20], [4, 1]]) r.q.offer({ rows, id });
  // 3 + 3 + 3 reaches the batch limit: the first batch starts without waiting for the delay.
  await tick(1);
  assert.deepEqual(r.batches, [[0, 1]]);
  await tick(40);
  assert.deepEqual(r.batches, [[0, 1], [2], [3], [4]]);
});

test('beyond maxPendingRows a request is dropped and reported, never queued', async () => {
  const r = recorder({ maxBatchRows: 4, maxPendingRows: 6, maxDelayMs: 1 }, 20);
  r.q.offer({ rows: 4, id: 0 });
  await tick(5); // running
  const accepted = [1, 2, 3, 4].map((id) => r.q.offer({ rows: 2, id }));
  assert.deepEqual(accepted, [true, true, true, false]);
  assert.deepEqual(r.dropped, [4]);
  assert.equal(r.q.waiting, 3);
  await tick(80);
  assert.deepEqual(r.batches, [[0], [1, 2], [3]]);
});

test('a run that fails does not stop the queue', async () => {
  const seen: number[] = [];
  const q = new ShadowQueue<Item>(async (batch) => {
    seen.push(...batch.map((b) => b.id));
    if (batch[0].id === 0) throw new Error('run failed');
  }, { maxBatchRows: 1, maxPendingRows: 8, maxDelayMs: 1 }, () => undefined);
  q.offer({ rows: 1, id: 0 });
  q.offer({ rows: 1, id: 1 });
  await tick(20);
  assert.deepEqual(seen, [0, 1]);
});

test('limits follow the candidate: its max_batch_size caps the batch, four batches may wait', () => {
  assert.deepEqual(shadowLimits(8), { maxBatchRows: 8, maxPendingRows: 32, maxDelayMs: 5 });
  assert.equal(shadowLimits(256).maxBatchRows, SHADOW_MAX_BATCH_ROWS);
  assert.equal(shadowLimits(0).maxBatchRows, SHADOW_MAX_BATCH_ROWS);
});
