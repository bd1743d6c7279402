// Two replicas sharing the /predict result cache in a real Redis (a throwaway redis-server):
// an answer computed on one is a hit on the other, keyed by the version that answered, and a
// store that is slow, dead or back again never stops a prediction.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { formatNaive } from '../../src/features/time';
import { FlightRows, loadFlights } from '../unit/features/flights-data';
import { MODELS, ROOT, Running, getJson, postJson, startServer } from '../helpers/server';
import { startRedis } from '../helpers/redis-server';

/** Not a performance bound: a request that waited for a dead store would take seconds (ioredis' own defaults), or forever. */
const HANG_MS = 2000;
const THRESHOLD = 0.23983268439769745;
const CLI = path.join(ROOT, 'dist/src/cli/main.js');

const featuresOf = (f: FlightRows, i: number) => ({ date: formatNaive(f.date[i]), distance: f.distance[i], origin: f.origin[i], destination: f.destination[i] });

/** One-row /predict; a request still unanswered after HANG_MS fails the test instead of hanging it. */
async function predict(srv: Running, features: Record<string, unknown>) {
  const started = performance.now();
  const res = await fetch(`${srv.url}/predict`, { method: 'POST', body: JSON.stringify({ model: 'flights-delay', features }), headers: { 'Content-Type': 'application/json' }, signal: AbortSignal.timeout(HANG_MS) });
  const json: any = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return { ...json, elapsedMs: performance.now() - started };
}

const answer = (r: { prediction: unknown; confidence: unknown; probabilities: unknown }) => ({ prediction: r.prediction, confidence: r.confidence, probabilities: r.probabilities });

async function metric(srv: Running, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

const cacheState = async (srv: Running) => (await getJson(`${srv.url}/health`)).json.cache;

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads the store directly, with a client of its own. */
async function inRedis<T>(url: string, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis(url, { maxRetriesPerRequest: 0 });
  try {
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

test('two replicas share the /predict result cache in Redis', async (t) => {
  const redis = await startRedis(t);
  // A scratch copy of the real flights model: the test adds a version and edits model.json.
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-shared-cache-'));
  t.after(() => fs.rmSync(repo, { recursive: true, force: true }));
  fs.cpSync(path.join(MODELS, 'flights-delay'), path.join(repo, 'flights-delay'), { recursive: true });
  const opts = { repository: repo, cacheUrl: redis.url, cacheTtlS: 600, workers: 1, sandbox: false as const };
  const a = await startServer(opts);
  t.after(() => a.server.stop());
  const b = await startServer(opts);
  t.after(() => b.server.stop());
  // Real February flights: the model's "future".
  const rows = await loadFlights({ from: '2001-02-10', to: '2001-02-11' }, 40);
  await waitFor('both replicas connected', async () => (await cacheState(a)).state === 'ok' && (await cacheState(b)).state === 'ok');

  await t.test('an answer computed on A is a hit on B, identical; another row is a miss; keys name the version and expire', async () => {
    const onA = await predict(a, featuresOf(rows, 0));
    assert.equal(onA.from_cache, false);
    assert.equal(onA.model_version, '1');
    assert.equal(onA.prediction, onA.probabilities[1] >= THRESHOLD ? 'delayed' : 'on_time');
    const onB = await predict(b, featuresOf(rows, 0));
    assert.equal(onB.from_cache, true);
    assert.deepEqual(answer(onB), answer(onA));
    const other = await predict(b, featuresOf(rows, 1));
    assert.equal(other.from_cache, false);
    assert.equal((await predict(a, featuresOf(rows, 1))).from_cache, true);
    for (const srv of [a, b]) {
      assert.equal(await metric(srv, 'infera_cache_requests_total', 'backend="redis",outcome="hit"'), 1);
      assert.equal(await metric(srv, 'infera_cache_requests_total', 'backend="redis",outcome="miss"'), 1);
    }
    const stored = await inRedis(redis.url, async (c) => {
      const keys = (await c.keys('*')).sort();
      return { keys, ttls: await Promise.all(keys.map((k) => c.ttl(k))), values: await Promise.all(keys.map((k) => c.get(k))) };
    });
    assert.equal(stored.keys.length, 2);
    for (const k of stored.keys) assert.match(k, /^infera:predict:v1:flights-delay:1:[0-9a-f]{16}:[0-9a-f]{64}$/);
    for (const ttl of stored.ttls) assert.ok(ttl > 0 && ttl <= 600, `TTL ${ttl} s, configured 600`);
    assert.ok(stored.values.some((v) => JSON.stringify(answer(JSON.parse(v!))) === JSON.stringify(answer(onA))), 'the value is the answer, as JSON');
  });

  await t.test('a new version never reads the answers of the one before', async () => {
    fs.cpSync(path.join(repo, 'flights-delay/1'), path.join(repo, 'flights-delay/2'), { recursive: true });
    await a.server.reload();
    await b.server.reload();
    const onB = await predict(b, featuresOf(rows, 0));
    assert.equal(onB.model_version, '2');
    assert.equal(onB.from_cache, false, "version 1's answer is not served for version 2");
    const onA = await predict(a, featuresOf(rows, 0));
    assert.equal(onA.model_version, '2');
    assert.equal(onA.from_cache, true);
  });

  await t.test("an edited threshold under the same version number is another digest: the old labels are not served", async () => {
    // A row whose label flips between the trained threshold and 0.5.
    const all = await postJson(`${a.url}/predict`, { model: 'flights-delay', instances: Array.from({ length: rows.rows }, (_, i) => featuresOf(rows, i)) });
    const i = all.json.predictions.findIndex((q: { probabilities: number[] }) => q.probabilities[1] >= THRESHOLD && q.probabilities[1] < 0.5);
    assert.ok(i >= 0, 'one of the 40 rows has THRESHOLD ≤ p < 0.5');
    const before = await predict(a, featuresOf(rows, i));
    assert.equal(before.prediction, 'delayed');
    assert.equal((await predict(b, featuresOf(rows, i))).from_cache, true);
    const file = path.join(repo, 'flights-delay/model.json');
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
    cfg.predict.threshold = 0.5;
    fs.writeFileSync(file, JSON.stringify(cfg));
    await a.server.reload();
    await b.server.reload();
    const after = await predict(b, featuresOf(rows, i));
    assert.equal(after.model_version, '2');
    assert.equal(after.from_cache, false);
    assert.equal(after.prediction, 'on_time');
    assert.equal((await predict(a, featuresOf(rows, i))).from_cache, true);
  });

  await t.test('a store that answers nothing (stopped) costs a request the command timeout, not a hang', async () => {
    const errorsBefore = await metric(a, 'infera_cache_errors_total', 'backend="redis",operation="get"');
    redis.pause();
    try {
      const r = await predict(a, featuresOf(rows, 2));
      assert.equal(r.from_cache, false);
      assert.ok(r.elapsedMs < HANG_MS, `${r.elapsedMs.toFixed(0)} ms`);
      assert.equal(await metric(a, 'infera_cache_errors_total', 'backend="redis",operation="get"'), errorsBefore + 1);
      const health = await getJson(`${a.url}/health`);
      assert.equal(health.status, 200);
      assert.equal(health.json.status, 'ok');
      assert.equal(health.json.cache.state, 'degraded');
      assert.match(health.json.cache.error, /timed out/i);
      assert.equal(await metric(a, 'infera_cache_up', 'backend="redis"'), 0);
    } finally {
      redis.resume();
    }
    await predict(a, featuresOf(rows, 3));
    await waitFor('A healthy again', async () => (await cacheState(a)).state === 'ok');
  });

  await t.test('Redis killed: every replica keeps answering (computed), counts the errors and says degraded; readiness stays up', async () => {
    const reference = await predict(a, featuresOf(rows, 4));
    assert.equal(reference.from_cache, false);
    await redis.kill();
    const errorsBefore = await metric(b, 'infera_cache_requests_total', 'backend="redis",outcome="error"');
    for (const srv of [a, b]) {
      for (let i = 4; i < 7; i++) {
        const r = await predict(srv, featuresOf(rows, i));
        assert.equal(r.from_cache, false);
        assert.ok(r.elapsedMs < HANG_MS, `${r.elapsedMs.toFixed(0)} ms`);
        if (i === 4) assert.deepEqual(answer(r), answer(reference), 'computed as without a cache');
      }
      const health = await getJson(`${srv.url}/health`);
      assert.equal(health.status, 200);
      assert.equal(health.json.cache.state, 'degraded');
      assert.equal((await fetch(`${srv.url}/v2/health/ready`)).status, 200);
    }
    assert.equal(await metric(b, 'infera_cache_requests_total', 'backend="redis",outcome="error"'), errorsBefore + 3);
  });

  await t.test('Redis back on the same port: both reconnect on their own and share answers again', async () => {
    await redis.restart();
    await waitFor('both replicas reconnected', async () => (await cacheState(a)).state === 'ok' && (await cacheState(b)).state === 'ok');
    const onA = await predict(a, featuresOf(rows, 7));
    assert.equal(onA.from_cache, false);
    const onB = await predict(b, featuresOf(rows, 7));
    assert.equal(onB.from_cache, true);
    assert.deepEqual(answer(onB), answer(onA));
  });
});

test('the cache settings: --cache-url, INFERA_CACHE_URL and server.cache_url (with cache_ttl_s), checked, the password never printed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-cache-config-'));
  try {
    const file = path.join(dir, 'infera.json');
    fs.writeFileSync(file, JSON.stringify({ server: { cache_url: 'redis://:filepw@cache-a:6379/1', cache_ttl_s: 120 } }));
    const print = (args: string[], env: Record<string, string> = {}) => {
      const { INFERA_CACHE_URL: _u, INFERA_CACHE_TTL: _t, ...inherited } = process.env;
      const r = spawnSync(process.execPath, [CLI, 'config', 'print', ...args], { encoding: 'utf8', env: { ...inherited, ...env } });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /filepw|envpw/, 'no password printed');
      return JSON.parse(r.stdout);
    };
    const fromFile = print(['--config', file]);
    assert.equal(fromFile.settings.cacheUrl, 'redis://:***@cache-a:6379/1');
    assert.equal(fromFile.sources.cacheUrl, 'file');
    assert.equal(fromFile.settings.cacheTtlS, 120);
    const fromEnv = print(['--config', file], { INFERA_CACHE_URL: 'redis://:envpw@cache-b:6380' });
    assert.equal(fromEnv.settings.cacheUrl, 'redis://:***@cache-b:6380');
    assert.equal(fromEnv.sources.cacheUrl, 'env');
    const fromFlag = print(['--config', file, '--cache-url', 'rediss://cache-c', '--cache-ttl', '30'], { INFERA_CACHE_URL: 'redis://cache-b' });
    assert.equal(fromFlag.settings.cacheUrl, 'rediss://cache-c');
    assert.equal(fromFlag.settings.cacheTtlS, 30);
    const byDefault = print([]);
    assert.equal(byDefault.settings.cacheUrl, undefined);
    assert.equal(byDefault.settings.cacheTtlS, 3600);

    const badFlag = spawnSync(process.execPath, [CLI, 'serve', '--cache-url', 'memcached://cache:11211'], { encoding: 'utf8' });
    assert.notEqual(badFlag.status, 0);
    assert.match(badFlag.stderr, /--cache-url 'memcached:\/\/cache:11211' is not a redis:\/\/ or rediss:\/\/ URL/);
    const badTtl = spawnSync(process.execPath, [CLI, 'serve', '--cache-ttl', '0'], { encoding: 'utf8' });
    assert.notEqual(badTtl.status, 0);
    assert.match(badTtl.stderr, /--cache-ttl must be at least 1 second/);
    const badFile = path.join(dir, 'bad.json');
    fs.writeFileSync(badFile, JSON.stringify({ server: { cache_url: 'http://cache', cache_ttl_s: 0 } }));
    const b = spawnSync(process.execPath, [CLI, 'serve', '--config', badFile], { encoding: 'utf8' });
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /server\.cache_url: must match pattern "\^rediss\?:\/\/"; server\.cache_ttl_s: must be >= 1/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
