import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DynamicBatcher } from '../../../src/batching/dynamic-batcher';
import { StaticPolicy } from '../../../src/batching/batch-policy';
import { InferaError } from '../../../src/errors';

/** Execution that records its batches and echoes each payload back. */
function recorder() {
  const batches: number[][] = [];
  return { batches, execute: async (p: number[]) => { batches.push(p); return p.map((x) => x * 10); } };
}

test('held until N requests queue, they run as one batch and each gets its own result', async (t) => {
  const r = recorder();
  const b = new DynamicBatcher<number, number>({ policy: new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 0, preferredBatchSizes: [] }), maxQueueSize: 100, maxInFlight: 1, execute: r.execute });
  b.holdUntil(5);
  const results = await Promise.all([1, 2, 3, 4, 5].map((x) => b.submit(x, { rows: 1, key: 'k' }, 1000)));
  assert.deepStrictEqual(results, [10, 20, 30, 40, 50]);
  assert.deepStrictEqual(r.batches, [[1, 2, 3, 4, 5]]);
});

test('EXPECTED FAILURE - queue full is rejected at once with 503 and Retry-After', async (t) => {
  const r = recorder();
  const b = new DynamicBatcher<number, number>({ policy: new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 0, preferredBatchSizes: [] }), maxQueueSize: 2, maxInFlight: 1, execute: r.execute });
  b.holdUntil(3);
  const ok = [b.submit(1, { rows: 1, key: 'k' }, 1000), b.submit(2, { rows: 1, key: 'k' }, 1000)];
  await assert.rejects(b.submit(3, { rows: 1, key: 'k' }, 1000), (e: InferaError) => e.code === 'ENG_ERR_QUEUE_FULL' && e.status === 503 && e.retryAfterS === 1);
  b.holdUntil(0);
  assert.deepStrictEqual(await Promise.all(ok), [10, 20]);
});

test('EXPECTED FAILURE - a request whose timeout passes in the queue gets 503', async (t) => {
  let now = 0;
  const b = new DynamicBatcher<number, number>({ policy: new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 0, preferredBatchSizes: [] }), maxQueueSize: 10, maxInFlight: 1, execute: recorder().execute, now: () => now });
  b.holdUntil(2);
  const p = b.submit(1, { rows: 1, key: 'k' }, 5);
  now = 6;
  b.holdUntil(0);
  await assert.rejects(p, (e: InferaError) => e.code === 'ENG_ERR_TIMEOUT' && e.status === 503);
});

test('EXPECTED FAILURE - a failed batch rejects every request in it, and the next batch runs', async (t) => {
  let calls = 0;
  const b = new DynamicBatcher<number, number>({
    policy: new StaticPolicy({ maxBatchSize: 2, maxQueueDelayMs: 0, preferredBatchSizes: [] }), maxQueueSize: 10, maxInFlight: 1,
    execute: async (p) => { calls += 1; if (calls === 1) throw new Error('backend failed'); return p; },
  });
  b.holdUntil(3);
  const ps = [1, 2, 3].map((x) => b.submit(x, { rows: 1, key: 'k' }, 1000));
  const settled = await Promise.allSettled(ps);
  assert.deepStrictEqual(settled.map((s) => s.status), ['rejected', 'rejected', 'fulfilled']);
});

test('EXPECTED FAILURE - a backend returning the wrong number of results rejects the batch', async (t) => {
  const b = new DynamicBatcher<number, number>({
    policy: new StaticPolicy({ maxBatchSize: 4, maxQueueDelayMs: 0, preferredBatchSizes: [] }), maxQueueSize: 10, maxInFlight: 1,
    execute: async () => [1],
  });
  b.holdUntil(2);
  const settled = await Promise.allSettled([1, 2].map((x) => b.submit(x, { rows: 1, key: 'k' }, 1000)));
  assert.ok(settled.every((s) => s.status === 'rejected' && /2 requests/.test(String(s.reason.message))));
});

test('close() rejects what is queued with ENG_ERR_SHUTTING_DOWN', async (t) => {
  const b = new DynamicBatcher<number, number>({ policy: new StaticPolicy({ maxBatchSize: 4, maxQueueDelayMs: 0, preferredBatchSizes: [] }), maxQueueSize: 10, maxInFlight: 1, execute: recorder().execute });
  b.holdUntil(5);
  const p = b.submit(1, { rows: 1, key: 'k' }, 1000);
  b.close();
  await assert.rejects(p, (e: InferaError) => e.code === 'ENG_ERR_SHUTTING_DOWN');
});

test('EXPECTED FAILURE - a batch the model refuses is retried request by request: only the offending one fails', async (t) => {
  const batches: number[][] = [];
  const execute = async (p: number[]) => {
    batches.push(p);
    if (p.includes(-1)) throw new InferaError('ENG_ERR_MODEL_REJECTED_INPUT', 'shape');
    return p.map((x) => x * 10);
  };
  const b = new DynamicBatcher<number, number>({ policy: new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 0, preferredBatchSizes: [] }), maxQueueSize: 100, maxInFlight: 1, execute });
  b.holdUntil(3);
  const settled = await Promise.allSettled([1, -1, 3].map((x) => b.submit(x, { rows: 1, key: 'k' }, 1000)));
  assert.deepStrictEqual(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as InferaError).code)), [10, 'ENG_ERR_MODEL_REJECTED_INPUT', 30]);
  assert.deepStrictEqual(batches, [[1, -1, 3], [1], [-1], [3]]);
});

test('EXPECTED FAILURE - any other batch failure fails the whole batch once (no retry)', async (t) => {
  let calls = 0;
  const execute = async (p: number[]) => {
    calls += 1;
    throw new Error(`worker died with ${p.length} requests`);
  };
  const b = new DynamicBatcher<number, number>({ policy: new StaticPolicy({ maxBatchSize: 8, maxQueueDelayMs: 0, preferredBatchSizes: [] }), maxQueueSize: 100, maxInFlight: 1, execute });
  b.holdUntil(2);
  const settled = await Promise.allSettled([1, 2].map((x) => b.submit(x, { rows: 1, key: 'k' }, 1000)));
  assert.deepStrictEqual(settled.map((s) => s.status), ['rejected', 'rejected']);
  assert.strictEqual(calls, 1);
});
