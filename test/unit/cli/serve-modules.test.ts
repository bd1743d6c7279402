/**
 * Issue 12: the `infera serve` process loads what serving needs, not the training stack.
 * A preload records every module each process of `infera serve` loaded (the launcher and the
 * server it re-launches under the serving V8 flags) and writes the list when it exits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const ROOT = path.resolve(__dirname, '../../../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');

/** Training, quantization, offline scoring and replay: none of it belongs in the server. */
const NOT_SERVING: [string, RegExp][] = [
  ['the training pipeline', /[/\\]dist[/\\]src[/\\]pipeline[/\\]/],
  ['the quantizer', /[/\\]dist[/\\]src[/\\]quant[/\\]/],
  ['the warehouse (DuckDB)', /[/\\]dist[/\\]src[/\\]data[/\\]warehouse\.js$/],
  ['offline scoring', /[/\\]dist[/\\]src[/\\]scoring[/\\]score-file\.js$/],
  ['the offline replay', /[/\\]dist[/\\]src[/\\]monitoring[/\\]replay\.js$/],
  ['DuckDB', /[/\\]node_modules[/\\]@duckdb[/\\]/],
  // Optional serving features, loaded only when configured (--grpc-port, --database-url):
  ['gRPC (@grpc/grpc-js)', /[/\\]node_modules[/\\]@grpc[/\\]/],
  ['protobufjs', /[/\\]node_modules[/\\]protobufjs[/\\]/],
  ['PostgreSQL (pg)', /[/\\]node_modules[/\\]pg[/\\]/],
];

test('infera serve: neither the launcher nor the server process loads the training stack, DuckDB or the quantizer, nor gRPC or PostgreSQL when not configured', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-serve-modules-'));
  try {
    const hook = path.join(dir, 'record-modules.js');
    fs.writeFileSync(hook, `
      const fs = require('node:fs');
      process.on('exit', () => fs.writeFileSync(${JSON.stringify(dir)} + '/loaded-' + process.pid + '.json', JSON.stringify(Object.keys(require.cache))));
    `);
    const child = spawn(process.execPath, ['-r', hook, CLI, 'serve', '--repository', path.join(ROOT, 'models'), '--registry', path.join(dir, 'registry.sqlite'), '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--log-level', 'info'], {
      env: { ...process.env, INFERA_NODE_FLAGS: undefined, INFERA_SERVING_FLAGS_APPLIED: undefined },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      readline.createInterface({ input: child.stdout! }).on('line', (l) => {
        if (l.includes('"infera ready"')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`infera serve exited early with ${code}`)));
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0);

    const lists = fs.readdirSync(dir).filter((f) => f.startsWith('loaded-'));
    assert.ok(lists.length >= 1, 'the preload recorded the serve process');
    const all = lists.flatMap((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as string[]);
    // Not vacuous: the server itself was loaded and seen.
    assert.ok(all.some((f) => f.endsWith(path.join('dist', 'src', 'server', 'server.js'))), 'server.js is among the loaded modules');
    for (const [what, re] of NOT_SERVING) {
      const hits = all.filter((f) => re.test(f));
      assert.deepEqual(hits.slice(0, 5), [], `infera serve loaded ${what} (${hits.length} modules)`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
