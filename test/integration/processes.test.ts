/**
 * `infera serve --processes 2`: one server as two serving processes on one port under a
 * supervisor (src/cli/process-supervisor.ts). Every request here opens its own connection, so
 * the kernel spreads them over both processes. Checked: both processes serve (readiness names
 * the answering one), every answer equals onnxruntime run in this process on the same real
 * speech, one /metrics scrape and the statistics extension count the requests of both (their
 * sums equal the requests this test sent), an unload through one process reaches the other, a killed process is started
 * again and takes the unload too, gRPC is served on its one port by the group, and SIGTERM stops
 * the group with status 0.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, scratchRepository } from '../helpers/server';
import { ReferenceVad, inferBody, maxAbsDiff, speechChunks } from '../helpers/vad';
import { freePort } from '../../bench/lib/server';
import { OipGrpcClient } from '../helpers/grpc-client';

const CLI = path.join(ROOT, 'dist/src/cli/main.js');

/** One request on a connection of its own (so that the kernel picks the process anew). */
function fresh(port: number, method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ host: '127.0.0.1', port, method, path: url, agent: false, headers: { Connection: 'close', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text.startsWith('{') ? JSON.parse(text) : text });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

function sampleSum(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) got[l[1]] = l[2];
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

test('serve --processes refuses settings it cannot honour, with a clear message', () => {
  const repo = scratchRepository();
  try {
    const cases: [string[], RegExp][] = [
      [['--processes', '2', '--port', '18099'], /--database-url.*--per-process-state/],
      [['--processes', '2', '--per-process-state', '--port', '0'], /fixed ports/],
      [['--processes', '2', '--per-process-state', '--port', '18099', '--score-dir', repo], /--score-dir is not supported/],
      [['--processes', 'many'], /--processes must be/],
    ];
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [CLI, 'serve', '--repository', repo, ...args], { encoding: 'utf8', timeout: 30_000 });
      assert.notEqual(r.status, 0, `serve ${args.join(' ')} must fail`);
      assert.match(r.stderr, message, `serve ${args.join(' ')}: ${r.stderr}`);
    }
  } finally {
    fs.rmSync(repo, { recursive: true, force: true });
  }
});

test('two serving processes on one port: both answer, correctly; /metrics sums them; an unload reaches both, and a restarted process', { timeout: 180_000 }, async (t) => {
  const repo = scratchRepository();
  const port = await freePort();
  const grpcPort = await freePort();
  const supervisor: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--repository', repo, '--host', '127.0.0.1', '--port', String(port), '--grpc-port', String(grpcPort), '--processes', '2', '--per-process-state', '--registry', path.join(repo, 'registry.sqlite')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Map<number, number>();
  const lines: string[] = [];
  readline.createInterface({ input: supervisor.stdout! }).on('line', (line) => {
    lines.push(line);
    const rec = JSON.parse(line);
    if (rec.msg === 'infera ready') ready.set(rec.process.index, rec.process.pid);
  });
  const exited = new Promise<number | null>((resolve) => supervisor.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (supervisor.exitCode === null && supervisor.signalCode === null) {
      supervisor.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(repo, { recursive: true, force: true });
  });
  const until = async (what: string, check: () => boolean | Promise<boolean>) => {
    const deadline = Date.now() + 60_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; server log:\n${lines.join('\n')}`);
      await sleep(100);
    }
  };
  await until('both processes ready', () => ready.size === 2);
  assert.notEqual(ready.get(0), ready.get(1), 'two processes');

  // Real speech; each chunk's answer against onnxruntime in this process.
  const reference = await ReferenceVad.create();
  const chunks = speechChunks().slice(0, 40);
  const answeredBy = new Set<number>();
  for (const chunk of chunks) {
    const r = await fresh(port, 'POST', '/v2/models/vad/infer', inferBody(chunk));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const want = (await reference.run(chunk)).output;
    const got = r.json.outputs.find((o: { name: string }) => o.name === 'output').data;
    assert.ok(maxAbsDiff(got, want) <= 1e-6, `answer ${got} vs onnxruntime ${Array.from(want)}`);
    answeredBy.add((await fresh(port, 'GET', '/v2/health/ready')).json.process.index);
  }
  assert.deepEqual([...answeredBy].sort(), [0, 1], 'fresh connections reach both processes');

  // One scrape, both processes: their gauges of one each sum to 2, and their request counters to what was sent.
  const metrics = (await fresh(port, 'GET', '/metrics')).json as string;
  assert.equal(sampleSum(metrics, 'infera_serving_processes'), 2);
  assert.equal(sampleSum(metrics, 'infera_inference_requests_total', { model: 'vad', outcome: 'success' }), chunks.length);

  // The statistics extension sums the processes too (what Triton's perf_analyzer reads).
  const stats = (await fresh(port, 'GET', '/v2/models/vad/stats')).json.model_stats;
  assert.equal(stats.length, 1);
  assert.equal(stats[0].inference_count, chunks.length);
  assert.equal(stats[0].inference_stats.success.count, chunks.length);
  assert.equal(stats[0].batch_stats.reduce((n: number, b: { compute_infer: { count: number } }) => n + b.compute_infer.count, 0), stats[0].execution_count);

  // gRPC shares its port through the cluster module: each new channel reaches a process, and
  // every one of them answers ModelStatistics with the sum.
  for (let i = 0; i < 4; i++) {
    const client = new OipGrpcClient(`127.0.0.1:${grpcPort}`);
    try {
      assert.equal((await client.call('ServerReady', {})).ready, true);
      const g = await client.call('ModelStatistics', { name: 'vad', version: '' });
      assert.equal(Number(g.model_stats[0].inference_count), chunks.length);
    } finally {
      client.close();
    }
  }

  // An unload through whichever process answers reaches the other before the answer.
  assert.equal((await fresh(port, 'POST', '/v2/repository/models/vad/unload')).status, 200);
  for (let i = 0; i < 12; i++) assert.equal((await fresh(port, 'GET', '/v2/models/vad/ready')).status, 400, 'vad unloaded in every process');

  // A killed process is started again, and is not ready before it took the unload.
  process.kill(ready.get(1)!, 'SIGKILL');
  const old = ready.get(1);
  await until('process 1 started again', () => ready.get(1) !== old);
  const after = new Set<number>();
  for (let i = 0; i < 30; i++) {
    after.add((await fresh(port, 'GET', '/v2/health/ready')).json.process.index);
    assert.equal((await fresh(port, 'GET', '/v2/models/vad/ready')).status, 400, 'the restarted process took the unload');
  }
  assert.deepEqual([...after].sort(), [0, 1]);
  assert.equal((await fresh(port, 'POST', '/v2/repository/models/vad/load')).status, 200);
  for (let i = 0; i < 12; i++) assert.equal((await fresh(port, 'GET', '/v2/models/vad/ready')).status, 200, 'vad loaded in every process');

  supervisor.kill('SIGTERM');
  assert.equal(await exited, 0, 'the group stops cleanly');
});
