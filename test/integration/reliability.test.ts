import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Running, postJson, scratchRepository, startServer } from '../helpers/server';
import { inferBody, speechChunks } from '../helpers/vad';
import { parseResponses, rawExchange } from '../helpers/raw-http';
import { OnnxBackend } from '../../src/runtime/onnx-backend';
import { freePort } from '../../bench/lib/server';

/**
 * Reliability: requests that once crashed the server, reloads that once unloaded the
 * serving version, swaps that once failed accepted requests (issue 11, defects 1–3).
 */

let srv: Running;
let port: number;
let chunk: Float32Array;

before(async () => {
  srv = await startServer();
  port = Number(new URL(srv.url).port);
  chunk = speechChunks()[10];
});

after(async () => {
  await srv.server.stop();
});

async function stillServing(url = srv.url) {
  const ok = await postJson(`${url}/v2/models/vad/infer`, inferBody(chunk));
  assert.strictEqual(ok.status, 200, JSON.stringify(ok.json));
}

const malformed: [string, string][] = [
  ['infer', 'POST /v2/models/%E0%A4%A/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'],
  ['model ready', 'GET /v2/models/%/ready HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['version ready', 'GET /v2/models/vad/versions/%ZZ/ready HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['model stats', 'GET /v2/models/%C3%28/stats HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['repository load', 'POST /v2/repository/models/%/load HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'],
  ['stream upgrade', 'GET /v2/models/%E0%A4%A/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'],
];

for (const [where, request] of malformed) {
  test(`BAD CALL - malformed percent-escape in the URL (${where}) → 400 ENG_ERR_BAD_REQUEST, the server keeps serving`, async () => {
    const { text } = await rawExchange(port, request);
    const [r] = parseResponses(text);
    assert.ok(r, `no response to ${JSON.stringify(request.split('\r\n')[0])}: ${JSON.stringify(text)}`);
    assert.strictEqual(r.status, 400, text);
    const body = JSON.parse(r.body);
    assert.strictEqual(body.code, 'ENG_ERR_BAD_REQUEST');
    assert.match(body.error, /malformed percent-escape/);
    await stillServing();
  });
}

test('BAD CALL - every error body carries its code beside the message', async () => {
  const r = await postJson(`${srv.url}/v2/models/nosuch/infer`, inferBody(chunk));
  assert.deepStrictEqual(Object.keys(r.json).sort(), ['code', 'error']);
  assert.strictEqual(r.json.code, 'ENG_ERR_MODEL_NOT_FOUND');
});

function setPolicy(repo: string, policy: unknown): void {
  const file = path.join(repo, 'vad/model.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  cfg.version_policy = policy;
  fs.writeFileSync(file, JSON.stringify(cfg));
}

test('EXPECTED FAILURE - a failed load of a new version keeps the serving version serving', async () => {
  const repo = scratchRepository();
  const other = await startServer({ repository: repo });
  try {
    // A truncated copy of the real model: onnxruntime refuses it.
    const onnx = fs.readFileSync(path.join(repo, 'vad/1/model.onnx'));
    fs.mkdirSync(path.join(repo, 'vad/2'));
    fs.writeFileSync(path.join(repo, 'vad/2/model.onnx'), onnx.subarray(0, onnx.length >> 1));
    const load = await postJson(`${other.url}/v2/repository/models/vad/load`, {});
    assert.strictEqual(load.status, 503, JSON.stringify(load.json));
    assert.strictEqual(load.json.code, 'ENG_ERR_MODEL_UNAVAILABLE');
    assert.match(load.json.error, /version 2: /);

    const r = await postJson(`${other.url}/v2/models/vad/infer`, inferBody(chunk));
    assert.strictEqual(r.status, 200, JSON.stringify(r.json));
    assert.strictEqual(r.json.model_version, '1');
    assert.strictEqual((await postJson(`${other.url}/v2/models/vad/versions/1/infer`, inferBody(chunk))).status, 200);
    const v2 = await postJson(`${other.url}/v2/models/vad/versions/2/infer`, inferBody(chunk));
    assert.strictEqual(v2.status, 503);
    const index = await postJson(`${other.url}/v2/repository/index`, {});
    const states = Object.fromEntries(index.json.filter((e: any) => e.name === 'vad').map((e: any) => [e.version, e.state]));
    assert.deepStrictEqual(states, { 1: 'READY', 2: 'UNAVAILABLE' });
    assert.ok(index.json.find((e: any) => e.version === '2').reason.length > 0);

    // Once version 2 is whole, the same load swaps to it and retires version 1.
    fs.writeFileSync(path.join(repo, 'vad/2/model.onnx'), onnx);
    assert.strictEqual((await postJson(`${other.url}/v2/repository/models/vad/load`, {})).status, 200);
    assert.strictEqual((await postJson(`${other.url}/v2/models/vad/infer`, inferBody(chunk))).json.model_version, '2');
    assert.strictEqual((await postJson(`${other.url}/v2/models/vad/versions/1/infer`, inferBody(chunk))).status, 404);
  } finally {
    await other.server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});

test('swapping versions 1 ↔ 2 ten times under 8 concurrent clients: every accepted request answers 200', async () => {
  const repo = scratchRepository();
  fs.mkdirSync(path.join(repo, 'vad/2'));
  fs.copyFileSync(path.join(repo, 'vad/1/model.onnx'), path.join(repo, 'vad/2/model.onnx'));
  setPolicy(repo, { specific: [1] });
  const other = await startServer({ repository: repo });
  try {
    let swapping = true;
    const seen = new Map<number, number>();
    const versions = new Set<string>();
    const body = JSON.stringify(inferBody(chunk));
    const loop = async () => {
      while (swapping) {
        const r = await postJson(`${other.url}/v2/models/vad/infer`, body);
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        if (r.status === 200) versions.add(r.json.model_version);
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    for (let i = 0; i < 10; i++) {
      setPolicy(repo, { specific: [i % 2 === 0 ? 2 : 1] });
      const load = await postJson(`${other.url}/v2/repository/models/vad/load`, {});
      assert.strictEqual(load.status, 200, JSON.stringify(load.json));
    }
    swapping = false;
    await Promise.all(loops);
    assert.deepStrictEqual([...seen.keys()], [200], `statuses: ${JSON.stringify([...seen])}`);
    assert.ok(seen.get(200)! >= 8);
    assert.deepStrictEqual([...versions].sort(), ['1', '2']);
  } finally {
    await other.server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});

test('unloading a model with 24 requests queued: all 24 finish with 200, later ones get 503 (known, not loaded) and ready says no', async () => {
  const repo = scratchRepository();
  const other = await startServer({ repository: repo });
  try {
    const mv = other.server.repository.resolve('vad');
    mv.holdUntil(1000);
    const inflight = Array.from({ length: 24 }, (_, i) => postJson(`${other.url}/v2/models/vad/infer`, inferBody(speechChunks()[i])));
    while (mv.pending < 24) await new Promise((r) => setImmediate(r));
    const unload = await postJson(`${other.url}/v2/repository/models/vad/unload`, {});
    assert.strictEqual(unload.status, 200);
    const answers = await Promise.all(inflight);
    assert.deepStrictEqual(answers.map((a) => a.status), new Array(24).fill(200));
    const late = await postJson(`${other.url}/v2/models/vad/infer`, inferBody(chunk));
    assert.strictEqual(late.status, 503);
    assert.strictEqual(late.json.code, 'ENG_ERR_MODEL_UNAVAILABLE');
    assert.match(late.json.error, /model 'vad' is in the repository but not loaded \(POST \/v2\/repository\/models\/vad\/load serves it\)/);
    const ready = await fetch(`${other.url}/v2/models/vad/ready`);
    assert.strictEqual(ready.status, 400, 'OIP: not ready is a 4xx');
  } finally {
    await other.server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});

test('EXPECTED FAILURE - a second server on a port in use fails with "in use" unless asked to share it', async () => {
  const free = await freePort();
  const first = await startServer({ port: free });
  try {
    await assert.rejects(startServer({ port: free }), /port \d+ on 127\.0\.0\.1 is in use by another process/);
    const shared = await startServer({ port: free, reusePort: true });
    await shared.server.stop();
    await stillServing(first.url);
  } finally {
    await first.server.stop();
  }
});

test('BAD CALL - a 100 MiB Content-Length gets its 413 while the client is still sending: no EPIPE, no reset', async () => {
  const sock = net.connect(port, '127.0.0.1');
  let got = '';
  let clientError: string | undefined;
  sock.on('data', (d) => (got += d.toString('latin1')));
  sock.on('error', (e: NodeJS.ErrnoException) => (clientError = e.code));
  const closed = new Promise((r) => sock.on('close', r));
  sock.write('POST /v2/models/vad/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n');
  const mib = Buffer.alloc(1 << 20, 32);
  for (let i = 0; i < 100; i++) if (!sock.write(mib)) await new Promise((r) => sock.once('drain', r));
  sock.end();
  await closed;
  assert.strictEqual(clientError, undefined);
  const [r] = parseResponses(got);
  assert.strictEqual(r.status, 413, got.slice(0, 200));
  assert.strictEqual(JSON.parse(r.body).code, 'ENG_ERR_BODY_TOO_LARGE');
  await stillServing();
});

test('a body sent as 5,000 tiny chunks (Transfer-Encoding: chunked) is read whole and answered', async () => {
  const body = Buffer.from(JSON.stringify(inferBody(chunk)));
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += Math.ceil(body.length / 5000)) {
    const piece = body.subarray(at, at + Math.ceil(body.length / 5000));
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  const head = 'POST /v2/models/vad/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
  const { text } = await rawExchange(port, Buffer.concat([Buffer.from(head), ...parts, Buffer.from('0\r\n\r\n')]));
  const [r] = parseResponses(text);
  assert.ok(r, text.slice(0, 200));
  assert.strictEqual(r.status, 200, r.body.slice(0, 200));
  const direct = await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk));
  assert.deepStrictEqual(JSON.parse(r.body).outputs, direct.json.outputs);
});

/** A server on a scratch copy of the repository whose VAD batches run in a one-worker pool (the crash hook's pool). */
async function withPooledVad(fn: (other: Running, backend: OnnxBackend) => Promise<void>): Promise<void> {
  const repo = scratchRepository();
  const file = path.join(repo, 'vad/model.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  cfg.instance = { ...cfg.instance, execution: 'pool' };
  fs.writeFileSync(file, JSON.stringify(cfg));
  const backend = new OnnxBackend({ workers: 1 });
  const other = await startServer({ repository: repo, backend, workers: 1 });
  try {
    await fn(other, backend);
  } finally {
    await other.server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
}

test('EXPECTED FAILURE - a worker that dies mid-batch: all 8 requests of the batch get 503 ENG_ERR_WORKER_FAILED (none hangs), the pool respawns, the next requests succeed', async () => {
  await withPooledVad(async (other, backend) => {
    const mv = other.server.repository.resolve('vad');
    backend.exitWorkerOnNextRun();
    mv.holdUntil(8);
    const answers = await Promise.all(speechChunks().slice(0, 8).map((c) => postJson(`${other.url}/v2/models/vad/infer`, inferBody(c))));
    assert.deepStrictEqual(answers.map((a) => [a.status, a.json.code]), new Array(8).fill([503, 'ENG_ERR_WORKER_FAILED']));
    assert.strictEqual(answers[0].headers.get('retry-after'), '1');
    assert.strictEqual(backend.workerFailures, 1);
    for (let i = 0; i < 3; i++) await stillServing(other.url);
  });
});

test('EXPECTED FAILURE - a version whose worker dies 3 times within a minute is quarantined: 503 naming why, UNAVAILABLE in the index, served again after a load', async () => {
  await withPooledVad(async (other, backend) => {
    const chunk = speechChunks()[0];
    for (let crash = 1; crash <= 3; crash++) {
      backend.exitWorkerOnNextRun();
      const r = await postJson(`${other.url}/v2/models/vad/infer`, inferBody(chunk));
      assert.deepStrictEqual([r.status, r.json.code], [503, 'ENG_ERR_WORKER_FAILED'], `crash ${crash}`);
      if (crash < 3) assert.strictEqual((await postJson(`${other.url}/v2/models/vad/infer`, inferBody(chunk))).status, 200, 'served between crashes');
    }
    const refused = await postJson(`${other.url}/v2/models/vad/infer`, inferBody(chunk));
    assert.strictEqual(refused.status, 503);
    assert.strictEqual(refused.json.code, 'ENG_ERR_MODEL_UNAVAILABLE');
    assert.match(refused.json.error, /quarantined after 3 worker crashes within 60 s/);
    assert.strictEqual(backend.workerFailures, 3, 'no batch reached a worker after the quarantine');
    const index = (await postJson(`${other.url}/v2/repository/index`, {})).json as { name: string; version?: string; state: string; reason: string }[];
    const vad = index.find((e) => e.name === 'vad')!;
    assert.strictEqual(vad.state, 'UNAVAILABLE');
    assert.match(vad.reason, /quarantined/);
    assert.strictEqual((await postJson(`${other.url}/v2/repository/models/vad/load`, {})).status, 200);
    await stillServing(other.url);
  });
});

test('EXPECTED FAILURE - a pooled batch past instance.execution_timeout_ms: all 64 requests get 504 ENG_ERR_EXECUTION_TIMEOUT at once, and the pool serves on', async () => {
  const repo = scratchRepository();
  const file = path.join(repo, 'vad/model.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  // 64 chunks of real speech in one batch take several ms in onnxruntime; the limit is 1 ms.
  fs.writeFileSync(file, JSON.stringify({ ...cfg, instance: { ...cfg.instance, execution: 'pool', execution_timeout_ms: 1 } }));
  const other = await startServer({ repository: repo, workers: 1 });
  try {
    const mv = other.server.repository.resolve('vad');
    const speech = speechChunks();
    mv.holdUntil(64);
    const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => postJson(`${other.url}/v2/models/vad/infer`, inferBody(speech[i % speech.length]))));
    assert.deepStrictEqual(new Set(answers.map((a) => `${a.status} ${a.json.code}`)), new Set(['504 ENG_ERR_EXECUTION_TIMEOUT']));
    assert.match(answers[0].json.error, /ran longer than instance.execution_timeout_ms = 1 ms; abandoned/);
    // Without the limit, the same pool (its worker done with the abandoned batch) serves again.
    fs.writeFileSync(file, JSON.stringify({ ...cfg, instance: { ...cfg.instance, execution: 'pool' } }));
    assert.strictEqual((await postJson(`${other.url}/v2/repository/models/vad/load`, {})).status, 200);
    await stillServing(other.url);
  } finally {
    await other.server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});

for (const [failure, reason] of [
  ['abort', /validating 1\/model\.onnx in a sandbox: onnxruntime crashed \(SIGABRT\)/],
  ['hang', /validating 1\/model\.onnx in a sandbox: timed out after 1500 ms/],
  ['allocate', /validating 1\/model\.onnx in a sandbox: used \d+ MiB, more than its 256 MiB/],
] as const) {
  test(`EXPECTED FAILURE - a version whose validation child ${failure === 'abort' ? 'aborts' : failure === 'hang' ? 'hangs' : 'exhausts memory'}: that version is UNAVAILABLE with the reason, the server serves the others`, async () => {
    const repo = scratchRepository();
    const other = await startServer({ repository: repo, sandbox: { timeoutMs: 1500, memoryMb: 256, testFailure: failure } });
    try {
      const index = await postJson(`${other.url}/v2/repository/index`, {});
      const vad = index.json.find((e: any) => e.name === 'vad');
      assert.strictEqual(vad.state, 'UNAVAILABLE');
      assert.match(vad.reason, reason);
      assert.strictEqual((await fetch(`${other.url}/v2/health/live`)).status, 200);
    } finally {
      await other.server.stop();
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });
}

test('a real model passes its sandbox validation (load, metadata, warm run on zeros) and serves', async () => {
  const repo = scratchRepository();
  const other = await startServer({ repository: repo, sandbox: { timeoutMs: 60_000, memoryMb: 2048 } });
  try {
    await stillServing(other.url);
  } finally {
    await other.server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
