import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ReferenceVad, inferBody, maxAbsDiff, speechChunks } from '../helpers/vad';
import { postJson, scratchRepository, startServer } from '../helpers/server';

/** Batched and single-row runs of the VAD's GEMMs accumulate in different orders (see oip-infer.test.ts). */
const BATCH_TOLERANCE = 1e-4;

/** A scratch repository whose VAD uses the adaptive policy with the given batching fields. */
function adaptiveRepository(batching: Record<string, unknown>): string {
  const repo = scratchRepository();
  const file = path.join(repo, 'vad/model.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  cfg.batching = { ...cfg.batching, policy: 'adaptive', ...batching };
  fs.writeFileSync(file, JSON.stringify(cfg));
  return repo;
}

test('adaptive policy: concurrent requests of mixed priorities all succeed with their own rows', async (t) => {
  const srv = await startServer({ repository: adaptiveRepository({ latency_slo_ms: 2000, priority_levels: 2 }) });
  const ref = await ReferenceVad.create();
  try {
    const speech = speechChunks().slice(0, 48);
    const withPriority = (k: number) => ({ ...inferBody(speech[k], undefined, undefined, `r${k}`), parameters: { priority: k % 3 } });
    const res = await Promise.all(speech.map((_, k) => postJson(`${srv.url}/v2/models/vad/infer`, withPriority(k))));
    for (let k = 0; k < speech.length; k++) {
      assert.strictEqual(res[k].status, 200, JSON.stringify(res[k].json));
      assert.strictEqual(res[k].json.id, `r${k}`);
      const e = await ref.run(speech[k]);
      const out = res[k].json.outputs.find((o: any) => o.name === 'output').data;
      assert.ok(maxAbsDiff(out, e.output) <= BATCH_TOLERANCE, `request ${k}`);
    }
    const bad = await postJson(`${srv.url}/v2/models/vad/infer`, { ...inferBody(speech[0]), parameters: { priority: -1 } });
    assert.strictEqual(bad.status, 400);
    assert.match(bad.json.error, /parameters\.priority must be a non-negative integer/);
  } finally {
    await srv.server.stop();
    await ref.release();
  }
});

test('priority 1 runs before a lower level queued earlier', async (t) => {
  const srv = await startServer({ repository: adaptiveRepository({ latency_slo_ms: 5000, priority_levels: 2 }), workers: 1 });
  try {
    const speech = speechChunks();
    const mv = srv.server.repository.resolve('vad');
    mv.holdUntil(3);
    // Different sample rates cannot share a batch: the levels run as two batches, in level order.
    const body = (k: number, sr: number, priority: number) => {
      const b = inferBody(speech[k]);
      b.inputs[1].data = [sr];
      return { ...b, parameters: { priority } };
    };
    const done: string[] = [];
    const send = (name: string, b: unknown) => postJson(`${srv.url}/v2/models/vad/infer`, b).then((r) => { done.push(name); return r; });
    const all = await Promise.all([send('low-1', body(10, 8000, 2)), send('low-2', body(11, 8000, 0)), send('high', body(12, 16000, 1))]);
    assert.deepStrictEqual(all.map((r) => r.status), [200, 200, 200]);
    assert.strictEqual(done[0], 'high', `completion order ${done}`);
  } finally {
    await srv.server.stop();
  }
});

/** `n` concurrent POSTs of `body` from a child process: each answer's status, Retry-After and JSON body. */
async function burst(url: string, body: string, n: number): Promise<{ status: number; retryAfter: string | null; json: any }[]> {
  const script = `
    const [url, body, n] = process.argv.slice(1);
    Promise.all(Array.from({ length: Number(n) }, () => fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } })
      .then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), json: JSON.parse(await r.text()) }))))
      .then((res) => process.stdout.write(JSON.stringify(res)), (e) => { console.error(e); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script, url, body, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const parts: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => parts.push(d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, 'the burst client ran');
  return JSON.parse(Buffer.concat(parts).toString('utf8'));
}

test('adaptive policy: below capacity a request that will miss its objective is still answered; a burst over capacity is shed at once (503 + Retry-After)', async (t) => {
  // 0.01 ms: no batch can be that fast, so every request misses its objective. One row per
  // batch and one executor: the capacity the cost model sees is 1 / cost(1), a few rows per ms.
  const repo = adaptiveRepository({ latency_slo_ms: 0.01 });
  const file = path.join(repo, 'vad/model.json');
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), max_batch_size: 1 }));
  const srv = await startServer({ repository: repo, workers: 1 });
  const shed = async () => Number((await (await fetch(`${srv.url}/metrics`)).text()).match(/infera_rejected_requests_total\{model="vad",version="1",reason="overloaded"\} (\d+)/)?.[1] ?? 0);
  try {
    const chunk = speechChunks()[20];
    // One every ~10 ms: far below capacity (the loop idles between them; the client runs in
    // this process, so back-to-back requests would keep the loop itself busy), each answered although late.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const r = await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk));
      assert.strictEqual(r.status, 200, `request ${i}: ${JSON.stringify(r.json)}`);
    }
    assert.strictEqual(await shed(), 0);
    // 1,500 at once, from another process: offered far above what one executor runs, so
    // requests predicted late are refused. (Sent from this process, the client's own work
    // slows the server's event loop below the executor, and a loop-bound server rightly sheds nothing.)
    const res = await burst(`${srv.url}/v2/models/vad/infer`, JSON.stringify(inferBody(chunk)), 1500);
    const refused = res.filter((r) => r.status === 503);
    assert.ok(refused.length > 0, 'some of the burst is shed');
    assert.ok(res.every((r) => r.status === 200 || r.status === 503), JSON.stringify(res.find((r) => r.status !== 200 && r.status !== 503)?.json));
    assert.match(refused[0].retryAfter ?? '', /^[1-9]\d*$/, 'Retry-After: the predicted wait, whole seconds');
    assert.strictEqual(refused[0].json.code, 'ENG_ERR_OVERLOADED');
    assert.match(refused[0].json.error, /would miss its latency objective: predicted to complete in \d+ ms, the objective allows 0 ms/);
    assert.strictEqual(await shed(), refused.length);
  } finally {
    await srv.server.stop();
  }
});

test('BAD CALL - adaptive policy without latency_slo_ms is a config error naming the field', async (t) => {
  const repo = scratchRepository();
  const file = path.join(repo, 'vad/model.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  cfg.batching.policy = 'adaptive';
  fs.writeFileSync(file, JSON.stringify(cfg));
  const srv = await startServer({ repository: repo });
  try {
    const idx = await postJson(`${srv.url}/v2/repository/index`, {});
    assert.match(idx.json[0].reason, /vad\/model\.json: batching\.latency_slo_ms: required when batching\.policy is 'adaptive'/);
  } finally {
    await srv.server.stop();
  }
});
