import assert from 'node:assert/strict';
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

test('EXPECTED FAILURE - adaptive policy sheds at once a request that cannot meet its objective (503 + Retry-After)', async (t) => {
  // 0.01 ms: no batch can be that fast, so once the cost model has its first batches every request is shed.
  const srv = await startServer({ repository: adaptiveRepository({ latency_slo_ms: 0.01 }) });
  try {
    const chunk = speechChunks()[20];
    for (let i = 0; i < 3; i++) {
      const r = await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk));
      assert.strictEqual(r.status, 200, 'cold start: accepted while the cost model learns');
    }
    const r = await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk));
    assert.strictEqual(r.status, 503);
    assert.strictEqual(r.headers.get('retry-after'), '1');
    assert.match(r.json.error, /would miss its latency objective: predicted to complete in \d+ ms, the objective allows 0 ms/);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /infera_rejected_requests_total\{model="vad",version="1",reason="overloaded"\} 1/);
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
