// Registry, aliases and deployments through the server: flights-delay v1 and a second
// registered version (the same real model, copied as v2: these tests are about which
// version answers, not about which is better), real February flights as the traffic.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadFeatureSpec, transform } from '../../src/features';
import { formatNaive } from '../../src/features/time';
import { FlightRows, loadFlights } from '../unit/features/flights-data';
import { MODELS, ROOT, Running, postJson, startServer } from '../helpers/server';

const CLI = path.join(ROOT, 'dist/src/cli/main.js');
let repo: string;
let registryFile: string;
let srv: Running;
let rows: FlightRows;

before(async () => {
  repo = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-rollout-'));
  fs.cpSync(path.join(MODELS, 'flights-delay'), path.join(repo, 'flights-delay'), { recursive: true });
  fs.cpSync(path.join(repo, 'flights-delay/1'), path.join(repo, 'flights-delay/2'), { recursive: true });
  registryFile = path.join(repo, '.infera/registry.sqlite');
  srv = await startServer({ repository: repo, registryPath: registryFile, keepWarmS: 1 });
  rows = await loadFlights({ from: '2001-03-01', to: '2001-03-02' }, 400);
});

after(async () => {
  await srv.server.stop();
  fs.rmSync(repo, { recursive: true, force: true });
});

const features = (i: number) => ({ date: formatNaive(rows.date[i % rows.rows]), distance: rows.distance[i % rows.rows], origin: rows.origin[i % rows.rows], destination: rows.destination[i % rows.rows] });
const predict = (i: number, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => postJson(`${srv.url}/predict`, { model: 'flights-delay', features: features(i), ...extra }, headers);
const admin = (what: string, body: unknown) => postJson(`${srv.url}/v2/repository/models/flights-delay/${what}`, body);

test('aliases: the production alias takes unversioned traffic; "@alias" and /versions/{alias}/ address it; unknown aliases are 404', async () => {
  assert.equal((await predict(0)).json.model_version, '2', 'no alias: the latest version, as before');
  const set = await admin('aliases', { alias: 'production', version: 1, reason: 'v2 not validated yet' });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  assert.deepEqual(set.json.aliases, { production: 1 });
  assert.equal((await predict(1)).json.model_version, '1');
  assert.equal((await predict(2, { model_version: '@production' })).json.model_version, '1');
  assert.equal((await fetch(`${srv.url}/v2/models/flights-delay/versions/production/ready`)).status, 200);
  const missing = await predict(3, { model_version: '@staging' });
  assert.equal(missing.status, 404);
  assert.match(missing.json.error, /model 'flights-delay' has no alias 'staging'; aliases: production/);
  assert.equal((await fetch(`${srv.url}/v2/models/flights-delay/versions/9x/ready`)).status, 400);
});

test('canary 20 %: about a fifth of 1,000 real requests answered by the candidate, each answer naming its version; A/B keys are sticky; shadow never answers', async () => {
  const d = await admin('deployment', { stable: 1, candidate: 2, mode: 'canary', share: 0.2 });
  assert.equal(d.status, 200, JSON.stringify(d.json));
  const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => predict(i)));
  assert.ok(answers.every((a) => a.status === 200));
  const v2 = answers.filter((a) => a.json.model_version === '2').length;
  assert.ok(v2 >= 150 && v2 <= 250, `${v2} of 1000 on the candidate`);

  await admin('deployment', { stable: 1, candidate: 2, mode: 'ab', share: 0.5 });
  for (const key of ['AA-11', 'UA-5', 'DL-100', 'WN-7']) {
    const seen = new Set((await Promise.all(Array.from({ length: 20 }, (_, i) => predict(i, {}, { 'X-Routing-Key': key })))).map((a) => a.json.model_version));
    assert.equal(seen.size, 1, `key ${key} saw ${[...seen]}`);
  }
  const byField = new Set((await Promise.all(Array.from({ length: 20 }, (_, i) => predict(i, { routing_key: 'AA-11' })))).map((a) => a.json.model_version));
  assert.equal(byField.size, 1, 'routing_key in the body is the same key');

  await admin('deployment', { stable: 1, candidate: 2, mode: 'shadow', share: 1 });
  const metric = async () => Number((await (await fetch(`${srv.url}/metrics`)).text()).match(/infera_shadow_requests_total\{model="flights-delay",version="2",outcome="success"\} (\d+)/)?.[1] ?? 0);
  const before = await metric();
  const shadowed = await Promise.all(Array.from({ length: 50 }, (_, i) => predict(i, { id: `shadow-${i}` })));
  assert.ok(shadowed.every((a) => a.status === 200 && a.json.model_version === '1'), 'the client only sees stable');
  if (process.platform === 'linux') {
    let idle: string | undefined;
    for (let i = 0; i < 50 && idle === undefined; i++) {
      idle = (await (await fetch(`${srv.url}/metrics`)).text()).match(/^infera_shadow_idle_priority\{thread="background"\} (\d)$/m)?.[1];
      if (idle === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(idle, '1', 'shadow runs on a thread at idle CPU priority');
  }
  for (let i = 0; i < 100 && (await metric()) < before + 50; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await metric(), before + 50, 'every request also ran on the candidate');
  // One label joins both versions' answers; v2 is a copy of v1, so they agree everywhere.
  const fb = await postJson(`${srv.url}/v2/models/flights-delay/feedback`, { items: Array.from({ length: 50 }, (_, i) => ({ id: `shadow-${i}`, label: rows.delay[i] > 15 ? 1 : 0 })) });
  assert.equal(fb.json.matched, 50, JSON.stringify(fb.json));
  let shadow: Record<string, number> | undefined;
  for (let i = 0; i < 60 && !shadow; i++) {
    await new Promise((r) => setTimeout(r, 50));
    shadow = ((await (await fetch(`${srv.url}/v2/models/flights-delay/registry`)).json()) as { rollout: { evidence: { shadow?: Record<string, number> } | null } }).rollout.evidence?.shadow;
  }
  assert.ok(shadow, 'shadow evidence is reported');
  assert.equal(shadow.requests, 50);
  assert.equal(shadow.labelled, 50);
  assert.equal(shadow.agreement, 1);
  assert.equal(shadow.mean_abs_difference, 0);
  assert.equal(shadow.auc_candidate, shadow.auc_stable);
  // OIP infer is mirrored too: the candidate runs its own copy of the tensors.
  const spec = loadFeatureSpec(path.join(repo, 'flights-delay/1/feature_spec.json'));
  const x = transform(spec, { date: [rows.date[0]], distance: [rows.distance[0]], origin: [rows.origin[0]], destination: [rows.destination[0]] });
  const beforeInfer = await metric();
  const inferred = await postJson(`${srv.url}/v2/models/flights-delay/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, x.width], data: Array.from(x.data) }] });
  assert.equal(inferred.status, 200, JSON.stringify(inferred.json).slice(0, 300));
  assert.equal(inferred.json.model_version, '1');
  for (let i = 0; i < 100 && (await metric()) < beforeInfer + 1; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await metric(), beforeInfer + 1);
});

test('10 deployment changes under load: only 200s, and every answer from a version the deployment in effect allowed', async () => {
  // Alternating deployments: A = canary {1, 2}, B = stable 2 only. An answer from version 1 is
  // consistent only if A was in effect at some moment between its request's send and receive.
  let stop = false;
  const answers: { sent: number; received: number; version: string }[] = [];
  const changes: { from: number; to: number; allowsV1: boolean }[] = [];
  const clients = Array.from({ length: 8 }, async (_, c) => {
    for (let i = 0; !stop; i++) {
      const sent = performance.now();
      const r = await predict(c * 1000 + i);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      answers.push({ sent, received: performance.now(), version: r.json.model_version });
    }
  });
  for (let k = 0; k < 10; k++) {
    const allowsV1 = k % 2 === 0;
    const from = performance.now();
    const r = await admin('deployment', allowsV1 ? { stable: 1, candidate: 2, mode: 'canary', share: 0.5 } : { stable: 2 });
    assert.equal(r.status, 200);
    changes.push({ from, to: performance.now(), allowsV1 });
    await new Promise((res) => setTimeout(res, 40));
  }
  stop = true;
  await Promise.all(clients);
  assert.ok(answers.length > 50, `${answers.length} answers`);
  // Intervals where version 1 may answer: from a change to A's start to the end of the next change (to B).
  const v1Allowed = changes.flatMap((c, k) => (c.allowsV1 ? [{ from: c.from, to: changes[k + 1]?.to ?? Infinity }] : []));
  const inconsistent = answers.filter((a) => a.version === '1' && !v1Allowed.some((w) => a.received >= w.from && a.sent <= w.to));
  assert.deepEqual(inconsistent, [], 'no version 1 answer outside the canary deployments');
  assert.ok(answers.every((a) => a.version === '1' || a.version === '2'));
});

test('promote and rollback are audited with their evidence; the CLI changes the same registry and the server follows within a second', async () => {
  await admin('deployment', { stable: 1, candidate: 2, mode: 'canary', share: 0.2 });
  const p = await admin('promote', { reason: 'canary healthy' });
  assert.equal(p.status, 200);
  assert.equal(p.json.deployment.stable, 2);
  assert.equal(p.json.aliases.production, 2);
  assert.equal((await admin('rollback', {})).status, 400, 'nothing to roll back');
  const cli = (args: string[]) => new Promise<string>((resolve, reject) => execFile(process.execPath, [CLI, ...args, '--repository', repo], (e, out, err) => (e ? reject(new Error(err)) : resolve(out))));
  await cli(['deploy', 'flights-delay', '--stable', '1', '--reason', 'back to v1 from the CLI']);
  let v = '';
  for (let i = 0; i < 50 && v !== '1'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    v = (await predict(i)).json.model_version;
  }
  assert.equal(v, '1', 'the server follows a change made by another process');
  const history = JSON.parse(await cli(['models', 'history', 'flights-delay'])).history as { action: string; actor: string; detail: Record<string, unknown> }[];
  assert.equal(history[0].action, 'deploy');
  assert.match(history[0].actor, /^cli:/);
  assert.equal(history[0].detail.reason, 'back to v1 from the CLI');
  const promote = history.find((h) => h.action === 'promote')!;
  assert.match(promote.actor, /^http:/);
  assert.equal(promote.detail.reason, 'canary healthy');
  const http = (await (await fetch(`${srv.url}/v2/models/flights-delay/registry/history`)).json()) as { history: unknown[] };
  assert.equal(http.history.length, history.length);
});

test('a version the deployment stops naming stays loaded for keep_warm_s (going back is a routing change, not a load), then is retired', async () => {
  const state = (await (await fetch(`${srv.url}/v2/models/flights-delay/registry`)).json()) as { aliases: Record<string, number> };
  for (const [alias, v] of Object.entries(state.aliases)) if (v === 1) await admin('aliases', { alias, version: alias === 'production' ? 2 : null });
  const v1Ready = async () => (await fetch(`${srv.url}/v2/models/flights-delay/versions/1/ready`)).status;
  assert.equal((await admin('deployment', { stable: 1 })).status, 200);
  assert.equal(await v1Ready(), 200);
  const from = performance.now();
  assert.equal((await admin('deployment', { stable: 2 })).status, 200);
  assert.equal((await predict(0)).json.model_version, '2');
  assert.equal(await v1Ready(), 200, 'still loaded right after the change');
  // Back to v1 within the time: answered by v1 at once (nothing to load).
  assert.equal((await admin('deployment', { stable: 1 })).status, 200);
  assert.equal((await predict(1)).json.model_version, '1');
  assert.equal((await admin('deployment', { stable: 2 })).status, 200);
  let status = 200;
  for (let i = 0; i < 60 && status === 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = await v1Ready();
  }
  assert.notEqual(status, 200, 'retired after keep_warm_s');
  assert.ok(performance.now() - from >= 1000, 'not before keep_warm_s');
  assert.equal((await predict(2)).json.model_version, '2');
});
