import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { getJson, postJson, scratchRepository, startServer } from '../helpers/server';
import { inferBody, speechChunks } from '../helpers/vad';

test('a model that fails to load is UNAVAILABLE with its reason while the others serve; load/unload at run time', async (t) => {
  const repo = scratchRepository();
  // A real model whose model.json contradicts the ONNX file.
  fs.mkdirSync(path.join(repo, 'broken/1'), { recursive: true });
  fs.copyFileSync(path.join(repo, 'vad/1/model.onnx'), path.join(repo, 'broken/1/model.onnx'));
  const cfg = JSON.parse(fs.readFileSync(path.join(repo, 'vad/model.json'), 'utf8'));
  cfg.name = 'broken';
  cfg.inputs[0].datatype = 'FP64';
  fs.writeFileSync(path.join(repo, 'broken/model.json'), JSON.stringify(cfg));
  const srv = await startServer({ repository: repo, adminToken: 'sekrit' });
  try {
    const chunk = speechChunks()[12];
    const index = await postJson(`${srv.url}/v2/repository/index`, {});
    assert.strictEqual(index.status, 200);
    const broken = index.json.find((e: any) => e.name === 'broken');
    assert.strictEqual(broken.state, 'UNAVAILABLE');
    assert.match(broken.reason, /broken\/model\.json: inputs\.0\.datatype: FP64 declared, the model file says FP32 for 'input'/);
    assert.strictEqual((await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk))).status, 200);
    const b = await postJson(`${srv.url}/v2/models/broken/infer`, inferBody(chunk));
    assert.strictEqual(b.status, 503);
    assert.strictEqual(b.headers.get('retry-after'), '5');
    assert.strictEqual((await fetch(`${srv.url}/v2/models/broken/ready`)).status, 400);

    // Management needs the token.
    const denied = await postJson(`${srv.url}/v2/repository/models/vad/unload`, {});
    assert.strictEqual(denied.status, 401);
    const auth = { Authorization: 'Bearer sekrit' };
    assert.strictEqual((await postJson(`${srv.url}/v2/repository/models/vad/unload`, {}, auth)).status, 200);
    assert.strictEqual((await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk))).status, 503, 'known but unloaded');
    const idx2 = await postJson(`${srv.url}/v2/repository/index`, {});
    assert.deepStrictEqual(idx2.json.find((e: any) => e.name === 'vad'), { name: 'vad', state: 'UNAVAILABLE', reason: 'unloaded' });
    assert.strictEqual((await postJson(`${srv.url}/v2/repository/models/vad/load`, {}, auth)).status, 200);
    assert.strictEqual((await postJson(`${srv.url}/v2/models/vad/infer`, inferBody(chunk))).status, 200);

    // Fix the broken model on disk, then load it.
    cfg.inputs[0].datatype = 'FP32';
    fs.writeFileSync(path.join(repo, 'broken/model.json'), JSON.stringify(cfg));
    assert.strictEqual((await postJson(`${srv.url}/v2/repository/models/broken/load`, {}, auth)).status, 200);
    assert.strictEqual((await postJson(`${srv.url}/v2/models/broken/infer`, inferBody(chunk))).status, 200);

    // A reload whose new config is invalid keeps the serving version.
    fs.writeFileSync(path.join(repo, 'broken/model.json'), '{ not json');
    const reload = await postJson(`${srv.url}/v2/repository/models/broken/load`, {}, auth);
    assert.strictEqual(reload.status, 200, 'the old version keeps serving');
    assert.strictEqual((await postJson(`${srv.url}/v2/models/broken/infer`, inferBody(chunk))).status, 200);
    const bad = await postJson(`${srv.url}/v2/repository/models/nosuch/load`, {}, auth);
    assert.strictEqual(bad.status, 404);
  } finally {
    await srv.server.stop();
    fs.rmSync(repo, { recursive: true });
  }
});

test('version policy: latest N and specific versions', async (t) => {
  const repo = scratchRepository();
  for (const v of [2, 3]) {
    fs.mkdirSync(path.join(repo, `vad/${v}`));
    fs.copyFileSync(path.join(repo, 'vad/1/model.onnx'), path.join(repo, `vad/${v}/model.onnx`));
  }
  const cfgPath = path.join(repo, 'vad/model.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.version_policy = { latest: 2 };
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  const srv = await startServer({ repository: repo });
  try {
    assert.deepStrictEqual((await getJson(`${srv.url}/v2/models/vad`)).json.versions, ['2', '3']);
    cfg.version_policy = { specific: [1, 3] };
    fs.writeFileSync(cfgPath, JSON.stringify(cfg));
    assert.strictEqual((await postJson(`${srv.url}/reload`, {})).status, 200);
    assert.deepStrictEqual((await getJson(`${srv.url}/v2/models/vad`)).json.versions, ['1', '3']);
    assert.strictEqual((await fetch(`${srv.url}/v2/models/vad/versions/2/ready`)).status, 404);
  } finally {
    await srv.server.stop();
    fs.rmSync(repo, { recursive: true });
  }
});
