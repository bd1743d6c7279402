/**
 * What a /predict result-cache hit costs with each backend (src/server/prediction-cache.ts):
 * the in-process LRU against Redis on the same machine (a throwaway redis-server on loopback,
 * from the Debian package redis-server), against computing the row (no cache):
 *
 *   node dist/bench/tools/cache-hit-cost.js [--requests 3000]
 *
 * 1. The cache layer alone, in process: ns per LRU lookup as /predict did it before the
 *    interface (LruCache.get of its key) and through it; µs per Redis GET of a hit.
 * 2. End to end: sequential one-row /predict requests on one keep-alive connection (one in
 *    flight), client and server in this process, over real February 2001 flights whose
 *    answers are all cached first (the answers' from_cache is checked). p50 / p99 in µs, and
 *    this process's CPU time per request (redis-server's own is not in it).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { LruCache } from '../../src/server/lru-cache';
import { createPredictionCache } from '../../src/server/prediction-cache';
import type { Prediction } from '../../src/protocol/predict-codec';
import { DEFAULT_SERVER_OPTIONS, InferaServer } from '../../src/server/server';
import { featureDict, flightsParquet, loadFebruaryFlights } from '../lib/flights';
import { RawHttpPool, serializePost } from '../lib/raw-http';
import { percentile } from '../lib/stats';
import { freePort } from '../lib/server';

const ROOT = path.resolve(__dirname, '../../..');
const ROWS = 256;

async function startRedis(): Promise<{ url: string; stop: () => void }> {
  if (spawnSync('redis-server', ['--version']).error) throw new Error("redis-server is not installed (Debian package 'redis-server')");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-bench-redis-'));
  const port = await freePort();
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  // Up once a client of it is (its health turns ok on the connection's ready check).
  const probe = createPredictionCache({ url, size: 0, registry: new Registry(), warn: () => undefined });
  probe.connect();
  const deadline = Date.now() + 10_000;
  while (probe.health().state !== 'ok') {
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not come up`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await probe.close();
  return { url, stop: () => { p.kill('SIGKILL'); fs.rmSync(dir, { recursive: true, force: true }); } };
}

const fmt = (x: number) => x.toFixed(1);

async function layer(url: string, rows: Record<string, unknown>[]): Promise<void> {
  const answer: Prediction = { prediction: 'delayed', confidence: 0.61, probabilities: [0.39, 0.61] };
  const mv = { name: 'flights-delay', version: 1, key: 'flights-delay/1#bench', digest: 'f'.repeat(64) };
  const n = 1_000_000;
  const old = new LruCache<Prediction>(1024);
  for (const r of rows) old.set(`${mv.key}\u0000${JSON.stringify(r)}`, answer);
  const memory = createPredictionCache({ size: 1024, registry: new Registry(), warn: () => undefined });
  for (const r of rows) memory.set(memory.keyOf(mv, r)!, answer);
  for (let round = 0; round < 3; round++) {
    let t = process.hrtime.bigint();
    let hits = 0;
    for (let i = 0; i < n; i++) if (old.get(`${mv.key}\u0000${JSON.stringify(rows[i % rows.length])}`)) hits++;
    const before = Number(process.hrtime.bigint() - t) / n;
    t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const key = memory.keyOf(mv, rows[i % rows.length]);
      let hit = key === undefined ? undefined : memory.get(key);
      if (hit instanceof Promise) hit = await hit;
      if (hit) hits++;
    }
    const through = Number(process.hrtime.bigint() - t) / n;
    if (hits !== 2 * n) throw new Error('not every lookup hit');
    console.log(`layer, round ${round + 1}: LRU lookup (key + get) before the interface ${fmt(before)} ns, through it ${fmt(through)} ns`);
  }
  const redis = createPredictionCache({ url, size: 0, registry: new Registry(), warn: () => undefined });
  redis.connect();
  while (redis.health().state !== 'ok') await new Promise((r) => setTimeout(r, 20));
  const keys = rows.map((r) => redis.keyOf(mv, r)!);
  for (const k of keys) redis.set(k, answer);
  await new Promise((r) => setTimeout(r, 100));
  const lat: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t = process.hrtime.bigint();
    const key = redis.keyOf(mv, rows[i % rows.length])!;
    const hit = await redis.get(key);
    lat.push(Number(process.hrtime.bigint() - t) / 1e3);
    if (!hit) throw new Error('redis lookup missed');
  }
  console.log(`layer: Redis lookup (key + GET + parse) of a hit, 20,000 sequential: p50 ${fmt(percentile(lat, 50))} µs, p99 ${fmt(percentile(lat, 99))} µs`);
  await redis.close();
}

async function endToEnd(label: string, opts: { cacheUrl?: string; predictCacheSize: number }, bodies: Buffer[], requests: number, expectCached: boolean): Promise<void> {
  const server = new InferaServer({ ...DEFAULT_SERVER_OPTIONS, repository: path.join(ROOT, 'models'), host: '127.0.0.1', port: 0, workers: 1, sandbox: false, registry: new Registry(), logger: pino({ level: 'silent' }), ...opts });
  const port = await server.start();
  while (server.cache.health().state !== 'ok') await new Promise((r) => setTimeout(r, 20));
  const pool = new RawHttpPool('127.0.0.1', port, 1, 10_000, true);
  const reqs = bodies.map((b) => serializePost('127.0.0.1', port, '/predict', b, { 'Content-Type': 'application/json' }));
  const send = (buf: Buffer) => new Promise<string>((resolve, reject) => pool.request(buf, (err, reply) => (err ? reject(err) : reply!.status === 200 ? resolve(reply!.body!.toString()) : reject(new Error(`HTTP ${reply!.status}: ${reply!.body}`)))));
  try {
    for (const r of reqs) await send(r); // fills the cache, warms up
    await new Promise((r) => setTimeout(r, 100)); // Redis SETs are not awaited by the request
    const lat: number[] = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < requests; i++) {
      const t = process.hrtime.bigint();
      const text = await send(reqs[i % reqs.length]);
      lat.push(Number(process.hrtime.bigint() - t) / 1e3);
      if ((JSON.parse(text) as { from_cache: boolean }).from_cache !== expectCached) throw new Error(`${label}: from_cache is not ${expectCached}`);
    }
    const used = process.cpuUsage(cpu);
    const cpuUs = (used.user + used.system) / requests;
    console.log(`end to end, ${label}: ${requests} sequential one-row /predict, p50 ${fmt(percentile(lat, 50))} µs, p99 ${fmt(percentile(lat, 99))} µs; CPU of this process (client, server, its inference worker) ${fmt(cpuUs)} µs per request`);
  } finally {
    pool.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--requests');
  const requests = i >= 0 ? Number(process.argv[i + 1]) : 3000;
  const flights = await loadFebruaryFlights(flightsParquet(ROOT), ROWS);
  const rows = Array.from({ length: flights.rows }, (_, r) => featureDict(flights, r));
  const bodies = rows.map((f) => Buffer.from(JSON.stringify({ model: 'flights-delay', features: f })));
  console.log(`${os.cpus()[0].model}, ${os.availableParallelism()} CPUs, node ${process.version}`);
  const redis = await startRedis();
  try {
    await layer(redis.url, rows);
    for (let round = 0; round < 2; round++) {
      await endToEnd('no cache (computed)', { predictCacheSize: 0 }, bodies, requests, false);
      await endToEnd('LRU hit', { predictCacheSize: 1024 }, bodies, requests, true);
      await endToEnd('Redis hit', { predictCacheSize: 0, cacheUrl: redis.url }, bodies, requests, true);
    }
  } finally {
    redis.stop();
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
