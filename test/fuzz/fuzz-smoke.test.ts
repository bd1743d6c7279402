import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../helpers/server';

/**
 * A short libFuzzer run (10 s per harness) of every native decoder that reads client bytes,
 * with ASan and UBSan: 0 crashes, 0 leaks, 0 timeouts. The long runs are `npm run fuzz --
 * --seconds 600` (README). Skipped only where no clang++ is installed (.ci/run installs it).
 */
test('libFuzzer + ASan/UBSan, 10 s per native decoder: no crash, no sanitizer report', (t) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/scripts/fuzz.js'), '--seconds', '10'], { encoding: 'utf8', timeout: 300_000 });
  if (r.status === 2 && /no clang\+\+ found/.test(r.stderr)) {
    t.skip('no clang++ installed');
    return;
  }
  assert.strictEqual(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /fuzz: 3 passed, 0 failed/);
  for (const name of ['json_number_arrays', 'pcm_resample', 'iso_time']) assert.match(r.stdout, new RegExp(`fuzz ${name}: \\d+ inputs in 10 s`));
});
