// API keys on the inference routes, CORS for browsers, and the server config file with its
// precedence (default < file < env < flag), through the real server and the real CLI.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { ROOT, postJson, startServer } from '../helpers/server';
import { inferBody, speechChunks } from '../helpers/vad';

const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const KEY = 'k-0123456789abcdef-live';
const flight = { date: '2001-02-03T14:05:00', distance: 1452, origin: 'ORD', destination: 'LAX' };

test('API keys guard infer, /predict and streams (Bearer, X-API-Key, api_key for WebSockets); metadata and health stay open', async () => {
  const srv = await startServer({ apiKeys: [KEY, 'k-another-key-of-16+chars'] });
  try {
    const body = inferBody(speechChunks()[3]);
    const none = await postJson(`${srv.url}/v2/models/vad/infer`, body);
    assert.equal(none.status, 401);
    assert.deepEqual(none.json, { code: 'ENG_ERR_API_KEY_REQUIRED', error: 'API key required: send Authorization: Bearer <API key> or X-API-Key: <API key>' });
    const wrong = await postJson(`${srv.url}/v2/models/vad/infer`, body, { Authorization: 'Bearer k-0123456789abcdef-livX' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.error, /the API key is not valid/);
    assert.equal((await postJson(`${srv.url}/v2/models/vad/infer`, body, { Authorization: `Bearer ${KEY}` })).status, 200);
    assert.equal((await postJson(`${srv.url}/v2/models/vad/infer`, body, { 'X-API-Key': 'k-another-key-of-16+chars' })).status, 200);
    assert.equal((await postJson(`${srv.url}/predict`, { model: 'flights-delay', features: flight })).status, 401);
    assert.equal((await postJson(`${srv.url}/predict`, { model: 'flights-delay', features: flight }, { 'X-API-Key': KEY })).status, 200);
    assert.equal((await fetch(`${srv.url}/v2/models/vad`)).status, 200, 'metadata needs no key');
    assert.equal((await fetch(`${srv.url}/v2/health/ready`)).status, 200);
    const ws = srv.url.replace('http', 'ws');
    const refused = await new Promise<number>((resolve) => {
      const c = new WebSocket(`${ws}/v2/models/vad/stream`);
      c.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      c.on('open', () => resolve(101));
    });
    assert.equal(refused, 401);
    const opened = await new Promise<boolean>((resolve) => {
      const c = new WebSocket(`${ws}/v2/models/vad/stream?api_key=${encodeURIComponent(KEY)}`);
      c.on('open', () => {
        c.close();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    assert.ok(opened, 'a browser-style key in the query opens the stream');
  } finally {
    await srv.server.stop();
  }
});

test('CORS: allowed origins get the headers on answers, errors and preflights; others get none', async () => {
  const srv = await startServer({ corsOrigins: ['https://app.example.com'] });
  try {
    const ok = await fetch(`${srv.url}/predict`, { method: 'POST', body: JSON.stringify({ model: 'flights-delay', features: flight }), headers: { 'Content-Type': 'application/json', Origin: 'https://app.example.com' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(ok.headers.get('vary'), 'Origin');
    const err = await fetch(`${srv.url}/v2/models/nope/infer`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json', Origin: 'https://app.example.com' } });
    assert.equal(err.status, 404);
    assert.equal(err.headers.get('access-control-allow-origin'), 'https://app.example.com', 'a browser can read the error body');
    const pre = await fetch(`${srv.url}/v2/models/vad/infer`, { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /X-API-Key/);
    const other = await fetch(`${srv.url}/v2/models/vad`, { headers: { Origin: 'https://evil.example.net' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const otherPre = await fetch(`${srv.url}/v2/models/vad/infer`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example.net' } });
    assert.equal(otherPre.headers.get('access-control-allow-origin'), null);
  } finally {
    await srv.server.stop();
  }
});

test('the config file: effective settings with their sources (default < file < env < flag), batching defaults reach model.json', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-config-'));
  try {
    const file = path.join(dir, 'infera.json');
    fs.writeFileSync(file, JSON.stringify({
      server: { port: 9090, workers: 1, default_model: 'flights-delay', predict_cache: 7 },
      batching: { max_queue_delay_ms: 2 },
      monitoring: { log: { sample_rate: 0.25 } },
      auth: { api_keys: [KEY], cors_origins: ['*'] },
    }));
    const r = spawnSync(process.execPath, [CLI, 'config', 'print', '--config', file, '--port', '9191'], { encoding: 'utf8', env: { ...process.env, INFERA_WORKERS: '3', INFERA_PREDICT_CACHE: '' } });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.settings.port, 9191);
    assert.equal(out.sources.port, 'flag');
    assert.equal(out.settings.workers, 3);
    assert.equal(out.sources.workers, 'env');
    assert.equal(out.settings.defaultPredictModel, 'flights-delay');
    assert.equal(out.sources.defaultModel, 'file');
    assert.equal(out.settings.host, '0.0.0.0');
    assert.equal(out.sources.host, 'default');
    assert.deepEqual(out.settings.apiKeys, ['***'], 'secrets are not printed');
    assert.deepEqual(out.batching_defaults, { max_queue_delay_ms: 2 });
    assert.equal(out.monitoring.log.sampleRate, 0.25);

    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ server: { prot: 1, port: 'x' }, batching: { max_queue_delay: 2 } }));
    const b = spawnSync(process.execPath, [CLI, 'serve', '--config', bad], { encoding: 'utf8' });
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /bad\.json: server\.prot: unknown field; server\.port: must be integer; batching\.max_queue_delay: unknown field/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // Batching defaults fill what model.json leaves out, and never override what it sets.
  const srv = await startServer({ batchingDefaults: { max_queue_delay_ms: 3, timeout_ms: 1234 } });
  try {
    const cfg = (name: string) => srv.server.repository.resolve(name).config.batching;
    assert.equal(cfg('flights-delay').timeout_ms, 1234);
    assert.equal(cfg('vad').timeout_ms, 10000, "vad's model.json sets its own");
  } finally {
    await srv.server.stop();
  }
});
