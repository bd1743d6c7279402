import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../helpers/server';
import { baseRequests, mutate } from '../../bench/tools/http-mutation-fuzz';

/**
 * 1,000 damaged real requests (byte flips, insertions, deletions, bad lengths, header floods,
 * malformed escapes, wrong shapes) against a live `infera serve`: no crash, no hang, no 5xx,
 * and valid requests still answered 200 between batches. The long run is
 * `node dist/bench/tools/http-mutation-fuzz.js --count 100000` (bench/README.md).
 */
test('HTTP mutation fuzzing, 1,000 requests: 0 crashes, 0 hangs, 0 5xx, still serving', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/bench/tools/http-mutation-fuzz.js'), '--count', '1000', '--seed', '7'], { encoding: 'utf8', timeout: 240_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const result = JSON.parse(line);
  assert.strictEqual(r.status, 0, line + r.stderr);
  assert.strictEqual(result.crashed, false);
  assert.strictEqual(result.hangs, 0);
  assert.strictEqual(result.final_valid_request, 200);
  assert.strictEqual(result.answers['5xx'], undefined, line);
  assert.strictEqual(result.mutations, 1000);
});

test('the mutator is reproducible and damages the request it is given', () => {
  const base = baseRequests()[0];
  const draw = (seed: number) => {
    let x = seed;
    return () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  };
  const a = Array.from({ length: 20 }, (_, i) => mutate(base, draw(i + 1)).toString('latin1'));
  const b = Array.from({ length: 20 }, (_, i) => mutate(base, draw(i + 1)).toString('latin1'));
  assert.deepStrictEqual(a, b);
  assert.ok(a.filter((m) => m !== base.toString('latin1')).length >= 18, 'nearly every mutation changes the bytes');
});
