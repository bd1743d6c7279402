import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { postJson, startServer } from '../helpers/server';
import { inferBody, speechChunks } from '../helpers/vad';

test('shutdown: readiness goes false, new requests are refused, in-flight requests finish', async (t) => {
  const srv = await startServer();
  const chunk = speechChunks()[5];
  const mv = srv.server.repository.resolve('vad');
  mv.holdUntil(3);
  const inFlight = [postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk)), postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk))];
  while (mv.pending < 2) await new Promise((r) => setTimeout(r, 2));
  const stopped = srv.server.stop();
  assert.strictEqual((await fetch(`${srv.url}/v2/health/ready`)).status, 503);
  const refused = await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk));
  assert.strictEqual(refused.status, 503);
  assert.match(refused.json.error, /shutting down/);
  mv.holdUntil(0);
  const done = await Promise.all(inFlight);
  assert.deepStrictEqual(done.map((r) => r.status), [200, 200]);
  await stopped;
  const port = Number(new URL(srv.url).port);
  const refusedConnect = await new Promise<boolean>((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => { sock.destroy(); resolve(false); });
    sock.once('error', () => resolve(true));
  });
  assert.ok(refusedConnect, 'the listen socket is closed after the drain');
});

test('GET /metrics exposes per-model series and the standard process metrics, which promtool accepts without a lint warning', async (t) => {
  const srv = await startServer({ registry: undefined }); // the server's own registry, default metrics included
  try {
    const chunk = speechChunks()[5];
    await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk));
    await postJson(`${srv.url}/v2/models/vad/infer`, { inputs: [] });
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(text, /infera_inference_requests_total\{model="vad",version="1",outcome="success"\} 1/);
    assert.match(text, /infera_inference_requests_total\{model="vad",version="1",outcome="client_error"\} 1/);
    assert.match(text, /infera_batch_size_bucket\{le="1",model="vad",version="1"\} 1/);
    assert.match(text, /infera_compute_duration_seconds_count\{model="vad",version="1"\} 1/);
    const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => fs.existsSync(p));
    if (!promtool) return t.skip('promtool not installed (Debian package prometheus; .ci/run installs it)');
    assert.match(text, /^process_cpu_seconds_total \d/m, 'standard process metric names, no prefix');
    assert.match(text, /^nodejs_heap_size_used_bytes \d/m);
    // promtool prints lint problems and may still exit 0: no output at all is the bar.
    const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(lint.status, 0, lint.stderr);
    assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'promtool lint output');
  } finally {
    await srv.server.stop();
  }
});
