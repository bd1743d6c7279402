import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, InferaError, toInferaError } from '../../src/errors';

test('every error code is documented in the README with its status', (t) => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
  for (const [code, { status }] of Object.entries(ErrorCodes)) {
    assert.match(readme, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `${code} (${status}) missing from README`);
  }
});

test('unknown errors become 500; coded errors keep their status and retry hint', (t) => {
  const e = toInferaError(new Error('boom'));
  assert.strictEqual(e.code, 'ENG_ERR_INTERNAL');
  assert.strictEqual(e.status, 500);
  const q = new InferaError('ENG_ERR_QUEUE_FULL', '3 waiting', { retryAfterS: 1 });
  assert.strictEqual(toInferaError(q), q);
  assert.strictEqual(q.message, 'queue full: 3 waiting');
});
