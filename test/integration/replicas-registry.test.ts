/**
 * Two replicas, one real PostgreSQL, each with its own embedded registry (as two pods with
 * their own disks): an alias moved through one replica is served by the other within the
 * documented bound (two replication rounds), a deployment made through the other comes back,
 * both audit logs hold both changes, and exactly one replica runs the rollout controller,
 * the other taking over when it stops. The model is the real flights-delay, served as
 * versions 1 and 2 (the same trained file twice: which version answered is what is checked).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SYNC_MS } from '../../src/registry/shared-registry';
import { PostgresServer } from '../helpers/postgres-server';
import { getJson, MODELS, postJson, Running, startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

/** Two rounds (push here, pull there) and their queries; asserted as a hang bound, reported as measured. */
const BOUND_MS = 2 * SYNC_MS + 2_000;

describe('replicas sharing PostgreSQL: the registry, its audit log and one rollout leader', () => {
  let pg: PostgresServer;
  let repo: string;
  let a: Running;
  let b: Running;
  const state = (r: Running) => getJson(`${r.url}/v2/models/flights-delay/registry`).then((x) => x.json);
  const row = { date: '2001-02-14 08:30', distance: 337, origin: 'SFO', destination: 'LAX' };

  before(async () => {
    pg = await PostgresServer.start();
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-replicas-'));
    fs.cpSync(path.join(MODELS, 'flights-delay'), path.join(repo, 'flights-delay'), { recursive: true });
    fs.cpSync(path.join(MODELS, 'flights-delay/1'), path.join(repo, 'flights-delay/2'), { recursive: true });
    a = await startServer({ repository: repo, databaseUrl: pg.url, workers: 1, rollout: { interval_ms: 200 } });
    b = await startServer({ repository: repo, databaseUrl: pg.url, workers: 1, rollout: { interval_ms: 200 } });
  });

  const stopped = new Set<Running>();
  after(async () => {
    for (const r of [a, b]) if (r && !stopped.has(r)) await r.server.stop();
    pg?.destroy();
    fs.rmSync(repo, { recursive: true, force: true });
  });

  it('an alias moved through A is served by B within two replication rounds', async (t) => {
    const set = await postJson(`${a.url}/v2/repository/models/flights-delay/aliases`, { alias: 'champion', version: 2 });
    assert.equal(set.status, 200, JSON.stringify(set.json));
    const t0 = Date.now();
    // Served: B answers '@champion' (404 "no alias" until the change arrives) from version 2.
    const p = await waitFor('B to serve the alias', () => postJson(`${b.url}/predict`, { model: 'flights-delay', model_version: '@champion', features: row }), (r) => r.status !== 404, BOUND_MS);
    t.diagnostic(`alias served by B after ${Date.now() - t0} ms (bound ${BOUND_MS} ms)`);
    assert.equal(p.status, 200, JSON.stringify(p.json));
    assert.equal(p.json.model_version, '2');
    assert.equal((await state(b)).aliases.champion, 2);
  });

  it('a deployment made through B reaches A; both audit logs hold both changes', async () => {
    const d = await postJson(`${b.url}/v2/repository/models/flights-delay/deployment`, { stable: 1, candidate: 2, mode: 'canary', share: 0.25 });
    assert.equal(d.status, 200, JSON.stringify(d.json));
    const seen = await waitFor('A to see the deployment', () => state(a), (s) => s.deployment?.candidate === 2, BOUND_MS);
    assert.deepEqual({ stable: seen.deployment.stable, candidate: seen.deployment.candidate, mode: seen.deployment.mode, share: seen.deployment.share }, { stable: 1, candidate: 2, mode: 'canary', share: 0.25 });
    assert.equal(seen.aliases.champion, 2, "A's own alias survived B's change");
    assert.equal(seen.aliases.production, 1);
    for (const r of [a, b]) {
      const h = await waitFor('both changes in the audit log', () => getJson(`${r.url}/v2/models/flights-delay/registry/history`).then((x) => x.json.history as { action: string }[]), (list) => list.some((e) => e.action === 'alias') && list.some((e) => e.action === 'deploy'), BOUND_MS);
      assert.equal(h.filter((e) => e.action === 'alias').length, 1, 'the alias change once');
      assert.equal(h.filter((e) => e.action === 'deploy').length, 1, 'the deployment once');
    }
  });

  it('exactly one replica runs the rollout controller; when it stops, the other takes over', async () => {
    const leaderOf = async () => (await Promise.all([a, b].map((r) => getJson(`${r.url}/v2/health/ready`).then((x) => x.json.dependencies?.registry?.leader === true))));
    const flags = await waitFor('a leader', leaderOf, (f) => f.some(Boolean));
    assert.equal(flags.filter(Boolean).length, 1, `leaders: ${flags}`);
    const [leader, other] = flags[0] ? [a, b] : [b, a];
    stopped.add(leader);
    await leader.server.stop();
    await waitFor('the other replica to lead', () => getJson(`${other.url}/v2/health/ready`).then((x) => x.json.dependencies?.registry?.leader === true), (v) => v);
  });
});
