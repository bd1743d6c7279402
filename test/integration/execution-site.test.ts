import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { postJson, scratchRepository, startServer } from '../helpers/server';
import { ReferenceVad, inferBody, maxAbsDiff, speechChunks } from '../helpers/vad';
import { OnnxBackend } from '../../src/runtime/onnx-backend';

/**
 * Batches run inline on the event loop or in the worker pool (src/runtime/execution-site.ts).
 * Both sites must give the answers of onnxruntime run in process, and /metrics must say
 * where each batch ran.
 */

let ref: ReferenceVad;
const chunks = speechChunks().slice(5, 29);

before(async () => {
  ref = await ReferenceVad.create();
});

after(async () => {
  await ref.release();
});

function withExecution(repo: string, execution: string, inlineMaxMs?: number): void {
  const file = path.join(repo, 'vad/model.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  cfg.instance = { ...cfg.instance, execution, ...(inlineMaxMs !== undefined ? { inline_max_ms: inlineMaxMs } : {}) };
  fs.writeFileSync(file, JSON.stringify(cfg));
}

const outputOf = (json: any, name: string): number[] => json.outputs.find((o: any) => o.name === name).data;

for (const [execution, cores] of [['inline', 2], ['pool', 1], ['auto', 1], ['auto', 2]] as const) {
  test(`execution '${execution}' on ${cores} core(s): single requests and a held batch of 24 equal onnxruntime in process; /metrics counts the site`, async () => {
    const repo = scratchRepository();
    // auto on one core: the budget is set out of reach of a busy machine, where one measured
    // batch can take tens of ms and push the 24-row prediction past the default 50 ms (the
    // rule itself is chooseSite's unit test); this test is about where batches are counted.
    withExecution(repo, execution, execution === 'auto' && cores === 1 ? 60_000 : undefined);
    const srv = await startServer({ repository: repo, cores, workers: cores });
    try {
      for (const ch of chunks.slice(0, 4)) {
        const r = await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(ch));
        assert.strictEqual(r.status, 200, JSON.stringify(r.json));
        const e = await ref.run(ch);
        assert.ok(maxAbsDiff(outputOf(r.json, 'output'), e.output) <= 1e-6 && maxAbsDiff(outputOf(r.json, 'hn'), e.hn) <= 1e-6);
      }
      const mv = srv.server.repository.resolve('vad');
      mv.holdUntil(chunks.length);
      const answers = await Promise.all(chunks.map((ch) => postJson(`${srv.url}/v2/models/vad/infer`, inferBody(ch))));
      const batch = await ref.runBatch(chunks);
      answers.forEach((a, k) => {
        assert.strictEqual(a.status, 200);
        // The same batch in process: bitwise equal, wherever it ran.
        assert.ok(maxAbsDiff(outputOf(a.json, 'output'), batch[k].output) === 0 && maxAbsDiff(outputOf(a.json, 'cn'), batch[k].cn) === 0, `request ${k}`);
      });
      const metrics = await (await fetch(`${srv.url}/metrics`)).text();
      const count = (site: string) => Number(new RegExp(`infera_batch_executions_total\\{model="vad",version="1",site="${site}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
      const inline = count('inline');
      const pool = count('pool');
      assert.strictEqual(inline + pool, 5, metrics.split('\n').filter((l) => l.includes('batch_executions')).join('\n'));
      if (execution === 'inline') assert.strictEqual(pool, 0);
      if (execution === 'pool') assert.strictEqual(inline, 0);
      // auto, one core: every batch is within the inline budget, so nothing leaves the event loop.
      if (execution === 'auto' && cores === 1) assert.strictEqual(pool, 0);
      // auto, two cores: the first batches (nothing measured yet) go to the pool; the 24-row one
      // (predicted well above 1 ms) too.
      if (execution === 'auto' && cores === 2) assert.ok(pool >= 4, `pool ${pool}`);
    } finally {
      await srv.server.stop();
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });
}

test('two cores: the pool runs batches on both of its workers at once; every answer equals onnxruntime in process', async () => {
  const repo = scratchRepository();
  withExecution(repo, 'pool');
  const backend = new OnnxBackend({ workers: 2 });
  const srv = await startServer({ repository: repo, cores: 2, workers: 2, backend });
  try {
    const all = speechChunks();
    const expected = await Promise.all(all.slice(0, 64).map((c) => ref.run(c)));
    // 8 clients, 8 requests each: with two batches in flight at a time, both workers take some.
    const answers = (await Promise.all(Array.from({ length: 8 }, async (_, client) => {
      const mine = [];
      for (let k = 0; k < 8; k++) mine.push(await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(all[client * 8 + k])));
      return mine;
    }))).flat();
    answers.forEach((a, i) => {
      assert.strictEqual(a.status, 200);
      assert.ok(maxAbsDiff(outputOf(a.json, 'output'), expected[i].output) <= 1e-5, `request ${i}`);
    });
    const perWorker = [...backend.batchesByWorker().values()];
    assert.strictEqual(perWorker.length, 2, `batches by worker: ${JSON.stringify([...backend.batchesByWorker()])}`);
    assert.ok(perWorker.every((n) => n > 0));
  } finally {
    await srv.server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
