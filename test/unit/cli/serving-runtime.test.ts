import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVING_V8_FLAGS, servingFlags } from '../../../src/cli/serving-runtime';

test('the serving V8 flags: single-threaded GC and an 8 MiB semi-space unless INFERA_NODE_FLAGS replaces them', () => {
  assert.deepStrictEqual(servingFlags({}), ['--single-threaded-gc', '--max-semi-space-size=8']);
  assert.deepStrictEqual([...SERVING_V8_FLAGS], servingFlags({}));
  assert.deepStrictEqual(servingFlags({ INFERA_NODE_FLAGS: '--max-semi-space-size=2  --no-opt' }), ['--max-semi-space-size=2', '--no-opt']);
  // Empty: Node's defaults, no re-launch needed.
  assert.deepStrictEqual(servingFlags({ INFERA_NODE_FLAGS: '' }), []);
});
