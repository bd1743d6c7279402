import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { cacheUrlProblem, createPredictionCache, redactUrl, sharedKey } from '../../../src/server/prediction-cache';
import { freePort } from '../../../bench/lib/server';

const row = { origin: 'ORD', date: '2001-02-03T14:05:00', distance: 1452, destination: 'LAX' };
const DIGEST = 'a3f1c0de9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817060000';
const v1 = { name: 'flights-delay', version: 1, key: 'flights-delay/1#load1', digest: DIGEST };

const counter = async (registry: Registry, name: string, labels: string): Promise<number> => {
  const m = (await registry.metrics()).match(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : 0;
};

test('the shared key names model, version, the version digest and the sha256 of the row with its fields sorted', () => {
  // Written out by hand: the row's JSON with its keys in alphabetical order.
  const canonical = '{"date":"2001-02-03T14:05:00","destination":"LAX","distance":1452,"origin":"ORD"}\n';
  const rowSha = crypto.createHash('sha256').update(canonical).digest('hex');
  assert.equal(sharedKey(v1, row), `infera:predict:v1:flights-delay:1:a3f1c0de9b8e7d6c:${rowSha}`);
  const reordered = { destination: 'LAX', distance: 1452, date: '2001-02-03T14:05:00', origin: 'ORD' };
  assert.equal(sharedKey(v1, reordered), sharedKey(v1, row), 'field order does not matter');
  assert.equal(sharedKey({ ...v1, key: 'flights-delay/1#load2' }, row), sharedKey(v1, row), 'another load (another replica) of the same files shares the key');
  const others = [
    sharedKey(v1, { ...row, distance: 1453 }),
    sharedKey(v1, { ...row, distance: '1452' }),
    sharedKey({ ...v1, version: 2 }, row),
    sharedKey({ ...v1, digest: `b${DIGEST.slice(1)}` }, row),
    sharedKey({ ...v1, name: 'flights-delay-2' }, row),
  ];
  assert.equal(new Set([sharedKey(v1, row), ...others]).size, others.length + 1, 'a value, its type, the version, the digest and the model each change the key');
  assert.equal(sharedKey({ ...v1, digest: undefined }, row), undefined, 'a version without a digest is not shared');
});

test('the memory backend answers synchronously, keys by the load (a reload never reads the old answers) and counts hits and misses', async () => {
  const registry = new Registry();
  const cache = createPredictionCache({ size: 2, registry, warn: () => undefined });
  const answer = { prediction: 'delayed', confidence: 0.7, probabilities: [0.3, 0.7] };
  const key = cache.keyOf(v1, row)!;
  assert.equal(cache.get(key), undefined);
  cache.set(key, answer);
  const hit = cache.get(key);
  assert.ok(!(hit instanceof Promise), 'no promise on the hot path');
  assert.deepEqual(hit, answer);
  assert.equal(cache.get(cache.keyOf({ ...v1, key: 'flights-delay/1#load2' }, row)!), undefined);
  assert.equal(await counter(registry, 'infera_cache_requests_total', 'backend="memory",outcome="hit"'), 1);
  assert.equal(await counter(registry, 'infera_cache_requests_total', 'backend="memory",outcome="miss"'), 2);
  assert.deepEqual(cache.health(), { backend: 'memory', state: 'ok' });
  await cache.close();
});

test('the redis backend with no server: a lookup answers undefined at once (no promise), counts an error, and /health reads degraded', async (t) => {
  const registry = new Registry();
  const port = await freePort();
  const warnings: string[] = [];
  const cache = createPredictionCache({ url: `redis://:s3cret@127.0.0.1:${port}/0`, size: 10, registry, warn: (_o, m) => warnings.push(m) });
  t.after(() => cache.close());
  cache.connect();
  const key = cache.keyOf(v1, row)!;
  const got = cache.get(key);
  assert.equal(got, undefined, 'not a promise: the request computes the row without waiting');
  cache.set(key, { prediction: 1, confidence: null });
  assert.equal(await counter(registry, 'infera_cache_requests_total', 'backend="redis",outcome="error"'), 1);
  assert.equal(await counter(registry, 'infera_cache_errors_total', 'backend="redis",operation="get"'), 1);
  assert.equal(await counter(registry, 'infera_cache_errors_total', 'backend="redis",operation="set"'), 1);
  assert.equal(await counter(registry, 'infera_cache_up', 'backend="redis"'), 0);
  const h = cache.health();
  assert.equal(h.state, 'degraded');
  assert.equal(h.url, `redis://:***@127.0.0.1:${port}/0`, 'no password in /health');
  // The refused connection is reported once, not at every reconnection attempt.
  await new Promise((r) => setTimeout(r, 400));
  assert.match(cache.health().error ?? '', /ECONNREFUSED/);
  assert.equal(warnings.length, 1, warnings.join('; '));
});

test('cache URLs: Redis only, with a host; passwords are redacted', () => {
  assert.equal(cacheUrlProblem('redis://cache.internal:6379/2'), null);
  assert.equal(cacheUrlProblem('rediss://:pw@cache.internal'), null);
  assert.match(cacheUrlProblem('memcached://cache:11211') ?? '', /not a redis:\/\/ or rediss:\/\/ URL/);
  assert.match(cacheUrlProblem('cache.internal:6379') ?? '', /not a redis/);
  assert.match(cacheUrlProblem('not a url') ?? '', /is not a URL/);
  assert.equal(redactUrl('redis://user:pw@h:1/0'), 'redis://user:***@h:1/0');
  assert.equal(redactUrl('redis://h:1'), 'redis://h:1');
});
