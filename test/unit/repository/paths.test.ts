import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkModelName, parseVersion, resolveInside } from '../../../src/repository/paths';
import { InferaError } from '../../../src/errors';

const isBadName = (e: InferaError) => e.code === 'ENG_ERR_BAD_NAME' && e.status === 400;

test('BAD CALL - traversal and separators in model names are refused', (t) => {
  for (const n of ['..', '../etc', 'a/b', 'a..b', '.hidden', '', 'x'.repeat(65), 'a\\b']) {
    assert.throws(() => checkModelName(n), isBadName, n);
  }
  assert.strictEqual(checkModelName('flights-delay'), 'flights-delay');
  assert.strictEqual(checkModelName('vad_v4.1'), 'vad_v4.1');
});

test('BAD CALL - versions must be positive decimal integers', (t) => {
  for (const v of ['0', '-1', '01', '1.5', 'latest', '1e3', '']) assert.throws(() => parseVersion(v), isBadName, v);
  assert.strictEqual(parseVersion('12'), 12);
});

test('BAD CALL - a symlink that leaves the repository is refused', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-repo-'));
  fs.mkdirSync(path.join(root, 'm'));
  fs.symlinkSync(os.tmpdir(), path.join(root, 'm', '1'));
  assert.throws(() => resolveInside(root, 'm', '1', 'model.onnx'), isBadName);
  assert.strictEqual(resolveInside(root, 'm'), path.join(fs.realpathSync(root), 'm'));
  fs.rmSync(root, { recursive: true });
});
