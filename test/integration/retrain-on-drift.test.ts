// Retraining on drift: a firing monitoring rule starts `infera train` (a child process) on the
// model's pipeline, and the gated output is deployed as a 20 % canary next to the serving
// version. The model is a real flights-delay trained by the smoke pipeline (train Jan 1–5
// 2001); the retraining run is the same pipeline, for real. The alert is raised through the
// server's own AlertManager (drift detection itself is tested on real days elsewhere:
// monitoring-replay.test.ts).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { TrainedModel, trainSmokeModel } from '../unit/monitoring/trained-model';
import { Running, postJson, startServer } from '../helpers/server';

let trained: TrainedModel;
let srv: Running;

before(async () => {
  trained = await trainSmokeModel();
  srv = await startServer({
    repository: trained.repository,
    registryPath: path.join(trained.tmp, 'registry.sqlite'),
    retrain: { [trained.model]: { pipeline: path.join(trained.tmp, 'pipeline.json'), rules: ['target_drift'], canary_share: 0.2 } },
  });
});

after(async () => {
  await srv?.server.stop();
  fs.rmSync(trained.tmp, { recursive: true, force: true });
});

test('a target-drift alert retrains the model in a child process and canaries the new version at 20 %; the audit log tells the story', async () => {
  const alerts = srv.server.monitoring.alerts;
  const fired = alerts.evaluate({ rule: 'target_drift:day', type: 'target_drift', cooldownMs: 0, model: trained.model, version: trained.version, firing: true, value: 0.31, limit: 0.1, message: 'late share 0.31 vs 0.205 in training' });
  assert.ok(fired);
  const trigger = srv.server.retrain!;
  const run = await trigger.current(trained.model)!;
  assert.equal(run.outcome, 'deployed', JSON.stringify(run));
  assert.equal(run.version, trained.version + 1);
  const state = (await (await fetch(`${srv.url}/v2/models/${trained.model}/registry`)).json()) as { deployment: { stable: number; candidate: number; mode: string; share: number } };
  assert.deepEqual([state.deployment.stable, state.deployment.candidate, state.deployment.mode, state.deployment.share], [trained.version, trained.version + 1, 'canary', 0.2]);
  // The new version serves its share.
  const versions = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const r = await postJson(`${srv.url}/predict`, { model: trained.model, features: { date: '2001-02-02T08:00:00', distance: 300 + i, origin: 'ORD', destination: 'LAX' } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    versions.add(r.json.model_version);
  }
  assert.ok(versions.has(String(trained.version + 1)), `answers from ${[...versions]}`);
  const history = (await (await fetch(`${srv.url}/v2/models/${trained.model}/registry/history`)).json()) as { history: { action: string; actor: string }[] };
  const actions = history.history.map((h) => `${h.actor}:${h.action}`);
  assert.ok(actions.includes('retrain-trigger:retrain_start'), actions.join(', '));
  assert.ok(actions.includes('retrain-trigger:deploy'), actions.join(', '));
  // A second alert inside the cooldown starts nothing.
  alerts.evaluate({ rule: 'target_drift:week', type: 'target_drift', cooldownMs: 0, model: trained.model, version: trained.version, firing: true, value: 0.3, limit: 0.1, message: 'again' });
  assert.equal(trigger.current(trained.model), undefined);
  assert.equal(trigger.runs.length, 1);
});
