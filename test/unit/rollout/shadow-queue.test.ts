// The shadow queue's rules: batches gathered for at most the delay or up to the row limit,
// sent at once (several may be in flight), whole requests per batch, drops beyond the bound on
// rows sent and not answered.
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

test('a batch is sent after the delay or at the row limit, whichever first; batches do not wait for each other', async () => {
  const r = recorder({ maxBatchRows: 4, maxPendingRows: 128, maxDelayMs: 3 }, 30);
  r.q.offer({ rows: 1, id: 0 });
  assert.deepEqual(r.batches, [], 'the first request waits for company');
  await tick(10); // the delay sent it; its run takes 30 ms
  assert.deepEqual(r.batches, [[0]]);
  for (let i = 1; i <= 5; i++) r.q.offer({ rows: 1, id: i });
  // Four rows reach the limit: sent at once, while the first batch is still running.
  assert.deepEqual(r.batches, [[0], [1, 2, 3, 4]]);
  assert.equal(r.q.waiting, 1);
  assert.equal(r.q.inFlight, 5);
  await tick(10);
  assert.deepEqual(r.batches, [[0], [1, 2, 3, 4], [5]]);
  assert.equal(r.maxConcurrent(), 3);
  await tick(60);
  assert.equal(r.q.inFlight, 0);
  assert.equal(r.q.waiting, 0);
});

test('a batch holds whole requests up to maxBatchRows; a larger request goes alone', async () => {
  const r = recorder({ maxBatchRows: 8, maxPendingRows: 100, maxDelayMs: 50 });
  for (const [id, rows] of [[0, 3], [1, 3], [2, 3], [3, 20], [4, 1]]) r.q.offer({ rows, id });
  // 3 + 3 + 3 would pass the limit: [0, 1] goes, 2 gathers; 20 rows go alone (2 first).
  assert.deepEqual(r.batches, [[0, 1], [2], [3]]);
  assert.equal(r.q.waiting, 1);
  await tick(70);
  assert.deepEqual(r.batches, [[0, 1], [2], [3], [4]]);
});

test('beyond maxPendingRows (sent and unanswered, or gathering) a request is dropped and reported, never queued', async () => {
  const r = recorder({ maxBatchRows: 4, maxPendingRows: 6, maxDelayMs: 1 }, 40);
  r.q.offer({ rows: 4, id: 0 }); // sent at once: 4 in flight
  const accepted = [1, 2].map((id) => r.q.offer({ rows: 2, id }));
  assert.deepEqual(accepted, [true, false]);
  assert.deepEqual(r.dropped, [2]);
  await tick(10); // 1 sent after the delay: 6 in flight
  assert.equal(r.q.inFlight, 6);
  assert.equal(r.q.offer({ rows: 1, id: 3 }), false);
  await tick(60); // both answered: room again
  assert.equal(r.q.inFlight, 0);
  assert.equal(r.q.offer({ rows: 1, id: 4 }), true);
  await tick(10);
  assert.deepEqual(r.batches, [[0], [1], [4]]);
  assert.deepEqual(r.dropped, [2, 3]);
});

test('a request arriving at an empty queue is taken whatever its size', () => {
  const r = recorder({ maxBatchRows: 4, maxPendingRows: 8, maxDelayMs: 1 });
  assert.equal(r.q.offer({ rows: 50, id: 0 }), true);
  assert.deepEqual(r.batches, [[0]]);
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
