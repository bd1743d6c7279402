/**
 * The benchmark harness end to end: `node dist/bench/run.js predict-one-row --quick`
 * (shortened further) into a temp --out directory, then the shape of what it wrote —
 * result.json against the harness schema, summary.md, the charts — never its numbers,
 * which depend on the machine. (The abort once seen in CI — "terminate called after
 * throwing an instance of 'Napi::Error'" — was the in-process ceiling terminating a worker
 * while onnxruntime released its session; bench/lib/ceiling-worker.ts now releases before
 * answering and the parent lets workers exit by themselves.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { findRepoRoot } from '../../bench/lib/machine';
import { validateResult } from '../../bench/lib/report';
import type { BenchResult } from '../../bench/lib/types';

const root = findRepoRoot(__dirname);
const runJs = path.join(root, 'dist/bench/run.js');
const missing = [runJs, path.join(root, 'dist/src/cli/main.js'), path.join(root, 'models/flights-delay/model.json'), path.join(root, 'node_modules/vega-datasets/data/flights-3m.parquet')].filter((f) => !existsSync(f));

test('bench predict-one-row --quick writes a result that matches the schema', { skip: missing.length > 0 && `missing ${missing.join(', ')}`, timeout: 180_000 }, async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'infera-bench-quick-'));
  try {
    const args = [runJs, 'predict-one-row', '--quick', '--connections', '8', '--rate', '50', '--out', out];
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 55_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve({ code: c, output: text });
      });
    });
    assert.equal(code, 0, output.slice(-3000));
    const r = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as BenchResult;
    assert.deepEqual(validateResult(r), []);
    assert.equal(r.scenario, 'predict-one-row');
    assert.equal(r.mode, 'quick');
    assert.equal(r.input.kind, 'flights');
    assert.deepEqual(r.targets.map((t) => t.name), ['naive-fastify', 'infera', 'infera-onnxruntime', 'uws-hello']);
    for (const t of r.targets) {
      assert.equal(t.status, 'ok', `${t.name}: ${t.reason ?? ''}`);
      // the HTTP ceiling runs the base open-loop rate only; ours and the naive peer also the ladder's rung
      const open = t.name === 'uws-hello' ? [['open', 8]] : [['open', 8], ['open', 8]];
      assert.deepEqual(t.series.map((s) => [s.mode, s.connections]), [['closed', 8], ['closed', 1], ...open]);
    }
    for (const name of ['naive-fastify', 'infera', 'infera-onnxruntime']) assert.equal(r.targets.find((t) => t.name === name)?.preflight?.ok, true, `${name} answers like the in-process model`);
    assert.ok(r.ratios.some((x) => x.key === 'ours_over_naive_rps'));
    assert.ok(r.ratios.some((x) => x.key === 'ours_over_naive_equal_p99'));
    assert.ok(r.inProcess && r.inProcess.ceilings.length > 0);
    const md = readFileSync(path.join(out, 'summary.md'), 'utf8');
    assert.match(md, /^# predict-one-row — quick run/);
    assert.deepEqual(r.charts, ['latency-throughput.svg']);
    assert.match(readFileSync(path.join(out, 'latency-throughput.svg'), 'utf8'), /^<svg /);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
