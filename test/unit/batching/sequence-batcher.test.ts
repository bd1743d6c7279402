import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SequenceBatcher, SequenceFlags } from '../../../src/batching/sequence-batcher';
import { StaticPolicy } from '../../../src/batching/batch-policy';
import { AdaptivePolicy } from '../../../src/batching/adaptive-policy';
import { InferaError } from '../../../src/errors';

/**
 * A stateful "model": the state is a running sum, each chunk adds its payload and
 * returns the new sum. Batches are recorded as "sequence:payload" labels.
 */
function summer(opts: { maxBatchSize?: number; maxSequences?: number; now?: () => number; fail?: (n: number) => boolean } = {}) {
  const batches: string[][] = [];
  let calls = 0;
  const b = new SequenceBatcher<{ seq: string; x: number }, number, number>({
    model: 'summer',
    policy: new StaticPolicy({ maxBatchSize: opts.maxBatchSize ?? 8, maxQueueDelayMs: 0, preferredBatchSizes: [] }),
    maxQueueSize: 100, maxSequences: opts.maxSequences ?? 100, idleTimeoutMs: 1000, maxInFlight: 1, now: opts.now,
    execute: async (items) => {
      calls += 1;
      batches.push(items.map((i) => `${i.payload.seq}:${i.payload.x}`));
      if (opts.fail?.(calls)) throw new Error('backend failed');
      return items.map((i) => ({ result: (i.state ?? 0) + i.payload.x, state: (i.state ?? 0) + i.payload.x }));
    },
  });
  const send = (seq: string, x: number, flags: Partial<SequenceFlags> = {}, timeoutMs = 10000) =>
    b.submit(seq, seq, { seq, x }, { key: 'k' }, { start: false, end: false, ...flags }, timeoutMs);
  return { b, batches, send };
}

test('chunks of many sequences share batches; never two of one sequence; order and state kept per sequence', async (t) => {
  const { b, batches, send } = summer();
  b.holdUntil(7);
  const r = [
    send('A', 1, { start: true }), send('A', 2), send('A', 3),
    send('B', 10, { start: true }), send('B', 20),
    send('C', 100, { start: true, end: true }),
    send('A', 4),
  ];
  assert.deepStrictEqual(await Promise.all(r), [1, 3, 6, 10, 30, 100, 10]);
  assert.deepStrictEqual(batches, [['A:1', 'B:10', 'C:100'], ['A:2', 'B:20'], ['A:3'], ['A:4']]);
  assert.strictEqual(b.sequences, 2, 'C ended; A and B hold state');
});

test('"oldest": with a small batch the sequences whose waiting chunk is oldest go first', async (t) => {
  const { b, batches, send } = summer({ maxBatchSize: 2 });
  b.holdUntil(4);
  await Promise.all([send('A', 1, { start: true }), send('A', 2), send('B', 1, { start: true }), send('C', 1, { start: true })]);
  assert.deepStrictEqual(batches, [['A:1', 'B:1'], ['A:2', 'C:1']]);
});

test('BAD CALL - a chunk for an unknown or ended sequence must carry the start flag (400)', async (t) => {
  const { b, send } = summer();
  await assert.rejects(send('X', 1), (e: InferaError) => e.status === 400 && /sequence X to model 'summer' must specify the START flag/.test(e.message));
  assert.strictEqual(await send('X', 1, { start: true }), 1);
  assert.strictEqual(await send('X', 2, { end: true }), 3);
  assert.strictEqual(b.sequences, 0, 'released after its end chunk ran');
  await assert.rejects(send('X', 3), (e: InferaError) => e.status === 400);
  assert.strictEqual(await send('X', 5, { start: true }), 5, 'a new sequence under the same id starts from the initial state');
});

test('a start flag on a live sequence restarts it from the initial state, after its queued chunks', async (t) => {
  const { b, send } = summer();
  b.holdUntil(4);
  const r = await Promise.all([send('A', 1, { start: true }), send('A', 2, { end: true }), send('A', 7, { start: true }), send('A', 1)]);
  assert.deepStrictEqual(r, [1, 3, 7, 8]);
});

test('idle sequences are released by the idle timeout; owned ones only by their owner', async (t) => {
  let now = 0;
  const { b, send } = summer({ now: () => now });
  await send('A', 1, { start: true });
  await send('S', 1, { start: true, owned: true });
  now = 999;
  b.sweep();
  assert.strictEqual(b.sequences, 2);
  now = 1000;
  b.sweep();
  assert.deepStrictEqual([b.has('A'), b.has('S')], [false, true]);
  await assert.rejects(send('A', 1), (e: InferaError) => e.status === 400);
  assert.strictEqual(b.release('S'), true);
  assert.strictEqual(b.sequences, 0);
});

test('EXPECTED FAILURE - a chunk that times out in the queue gets 503; the sequence goes on, its start moves to the next chunk', async (t) => {
  let now = 0;
  const { b, send } = summer({ now: () => now });
  b.holdUntil(3);
  const first = send('A', 1, { start: true }, 5);
  const second = send('A', 2, {}, 50);
  now = 10;
  const third = send('A', 4, {}, 50);
  b.holdUntil(0);
  await assert.rejects(first, (e: InferaError) => e.code === 'ENG_ERR_TIMEOUT' && e.status === 503);
  assert.deepStrictEqual(await Promise.all([second, third]), [2, 6]);
});

test('EXPECTED FAILURE - max_sequences and release(): new sequences refused with 503; a released one rejects its queue', async (t) => {
  const { b, send } = summer({ maxSequences: 1 });
  await send('A', 1, { start: true });
  await assert.rejects(send('B', 1, { start: true }), (e: InferaError) => e.code === 'ENG_ERR_QUEUE_FULL' && /1 sequences are live/.test(e.message));
  b.holdUntil(2);
  const queued = send('A', 1);
  b.release('A');
  await assert.rejects(queued, /sequence A was released/);
  assert.strictEqual(b.sequences, 0);
  b.holdUntil(0);
  assert.strictEqual(await send('B', 1, { start: true }), 1);
});

test('EXPECTED FAILURE - a failed batch rejects its chunks and leaves the states as they were', async (t) => {
  const { b, send } = summer({ fail: (n) => n === 2 });
  assert.strictEqual(await send('A', 1, { start: true }), 1);
  await assert.rejects(send('A', 2), /backend failed/);
  assert.strictEqual(await send('A', 4), 5);
  b.close();
  await assert.rejects(send('A', 1), (e: InferaError) => e.code === 'ENG_ERR_SHUTTING_DOWN');
});

test('EXPECTED FAILURE - a sequence chunk predicted to miss its objective is refused at once (503), and the sequence goes on from its state when it is sent again', async (t) => {
  // The shared loop sheds for the sequence batcher as for the dynamic one (it never did before).
  const policy = new AdaptivePolicy({ maxBatchSize: 4, latencySloMs: 10 });
  for (const n of [1, 2, 3]) policy.observeBatch(n, 2 + n); // cost(n) = n + 2 ms
  for (let i = 0; i < 100; i++) policy.observeOffered(0, 1); // overloaded: 1 row per ms offered, 0.67 run
  const rejected: string[] = [];
  const b = new SequenceBatcher<{ x: number }, number, number>({
    model: 'summer', policy, maxQueueSize: 100, maxSequences: 100, idleTimeoutMs: 1000, maxInFlight: 1, now: () => 0,
    hooks: { onReject: (r) => rejected.push(r) },
    execute: async (items) => items.map((i) => ({ result: (i.state ?? 0) + i.payload.x, state: (i.state ?? 0) + i.payload.x })),
  });
  const send = (seq: string, x: number, start = false) => b.submit(seq, seq, { x }, { key: 'k' }, { start, end: false }, 10000);
  b.holdUntil(7);
  // Six chunks of six sequences queued: batches of 4 then 2 complete at 6 ms and 10 ms; a seventh would complete at 11 ms.
  const accepted = ['A', 'B', 'C', 'D', 'E', 'F'].map((s, i) => send(s, i + 1, true));
  await assert.rejects(send('A', 100), (e: InferaError) => e.code === 'ENG_ERR_OVERLOADED' && e.status === 503 && /predicted to complete in 11 ms, the objective allows 10 ms/.test(e.message));
  assert.deepStrictEqual(rejected, ['overloaded']);
  b.holdUntil(0);
  assert.deepStrictEqual(await Promise.all(accepted), [1, 2, 3, 4, 5, 6]);
  assert.strictEqual(await send('A', 100), 101, "the refused chunk never ran: A's state is 1, not 101");
});
