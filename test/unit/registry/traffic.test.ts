// The routing decision and the registry store, on their own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelRegistry } from '../../../src/registry/registry';
import { keyPoint, routeRequest } from '../../../src/registry/traffic';

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

test('canary 20 %: the candidate share over 10,000 requests is within ±1.5 points; keyed requests are sticky', () => {
  const d = { model: 'm', stable: 1, candidate: 2, mode: 'canary' as const, share: 0.2, keyHeader: null, updatedAt: 0 };
  for (const seed of [1, 2, 3]) {
    const draw = lcg(seed);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (routeRequest(d, undefined, draw()).arm === 'candidate') hits++;
    assert.ok(Math.abs(hits / 10_000 - 0.2) <= 0.015, `seed ${seed}: ${hits / 100} %`);
  }
  const first = routeRequest(d, 'user-42', 0.99).version;
  for (let i = 0; i < 100; i++) assert.equal(routeRequest(d, 'user-42', i / 100).version, first, 'a key keeps its arm whatever the draw');
});

test('A/B 50 %: 100 % sticky per key, keys split evenly, no key goes to stable; shadow mirrors its share', () => {
  const d = { model: 'm', stable: 1, candidate: 2, mode: 'ab' as const, share: 0.5, keyHeader: null, updatedAt: 0 };
  let candidate = 0;
  for (let k = 0; k < 10_000; k++) {
    const key = `flight-${k}`;
    const arm = routeRequest(d, key, 0).arm;
    assert.equal(routeRequest(d, key, 0.7).arm, arm);
    if (arm === 'candidate') candidate++;
    assert.ok(keyPoint(key) >= 0 && keyPoint(key) < 1);
  }
  assert.ok(Math.abs(candidate / 10_000 - 0.5) <= 0.015, `${candidate / 100} % of keys on the candidate`);
  assert.equal(routeRequest(d, undefined, 0).arm, 'stable');
  const s = { ...d, mode: 'shadow' as const, share: 0.25 };
  assert.deepEqual(routeRequest(s, 'x', 0.1), { version: 1, arm: 'stable', shadow: 2 });
  assert.deepEqual(routeRequest(s, 'x', 0.3), { version: 1, arm: 'stable', shadow: null });
});

test('registry: aliases move atomically, deployments keep production/candidate in step, every change is audited; migrations run once', () => {
  let now = 1_000;
  const r = new ModelRegistry(':memory:', () => now++);
  assert.equal(r.register('flights-delay', 1, 'repository'), true);
  assert.equal(r.register('flights-delay', 1, 'repository'), false, 'idempotent');
  r.register('flights-delay', 2, 'cli:train', 'pipelines/flights-delay.json');
  r.setAlias('flights-delay', 'staging', 2, 'alice');
  r.setAlias('flights-delay', 'staging', 1, 'alice');
  assert.equal(r.alias('flights-delay', 'staging'), 1);
  assert.throws(() => r.setAlias('flights-delay', 'staging', 7, 'alice'), /has no registered version 7/);
  assert.throws(() => r.setAlias('flights-delay', '9lives', 1, 'alice'), /alias '9lives' must start with a letter/);
  r.deploy('flights-delay', { stable: 1, candidate: 2, mode: 'canary', share: 0.2 }, 'bob');
  assert.deepEqual(r.aliases('flights-delay'), { candidate: 2, production: 1, staging: 1 });
  assert.deepEqual(r.referenced('flights-delay'), [1, 2]);
  assert.throws(() => r.deploy('flights-delay', { stable: 1, candidate: 1 }, 'bob'), /the candidate is the stable version/);
  assert.throws(() => r.deploy('flights-delay', { stable: 1, candidate: 2, share: 1.5 }, 'bob'), /share must be in \[0, 1\]/);
  r.promote('flights-delay', 'guardrail', { auc_candidate: 0.69, auc_stable: 0.68 });
  assert.deepEqual(r.deployment('flights-delay')?.stable, 2);
  assert.equal(r.deployment('flights-delay')?.candidate, null);
  assert.equal(r.alias('flights-delay', 'production'), 2);
  assert.throws(() => r.rollback('flights-delay', 'bob'), /has no candidate to roll back/);
  const actions = r.history('flights-delay').map((h) => h.action).reverse();
  assert.deepEqual(actions, ['register', 'register', 'alias', 'alias', 'deploy', 'deploy', 'promote']);
  const promote = r.history('flights-delay')[0];
  assert.equal(promote.actor, 'guardrail');
  assert.deepEqual(promote.detail, { previous_stable: 1, auc_candidate: 0.69, auc_stable: 0.68 });
  assert.equal(r.changed(), true);
  assert.equal(r.changed(), false, 'nothing changed since');
  r.close();
});

test('a newly trained version is registered as candidate; production is pinned to what served before, so the new one gets no traffic', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { registerCandidate, openRegistry } = await import('../../../src/cli/registry-command');
  const { MODELS } = await import('../../helpers/server');
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-candidate-'));
  try {
    fs.cpSync(path.join(MODELS, 'flights-delay'), path.join(repo, 'flights-delay'), { recursive: true });
    fs.cpSync(path.join(repo, 'flights-delay/1'), path.join(repo, 'flights-delay/2'), { recursive: true });
    const line = registerCandidate({ repository: repo }, 'flights-delay', 2, 'train flights-delay.json');
    assert.match(line, /flights-delay version 2 registered as 'candidate'; production pinned to version 1/);
    const r = openRegistry({ repository: repo }, 'flights-delay');
    assert.deepEqual(r.aliases('flights-delay'), { candidate: 2, production: 1 });
    assert.match(r.history('flights-delay')[0].actor, /^cli:.*\(train flights-delay\.json\)$/);
    r.close();
    fs.cpSync(path.join(repo, 'flights-delay/1'), path.join(repo, 'flights-delay/3'), { recursive: true });
    assert.doesNotMatch(registerCandidate({ repository: repo }, 'flights-delay', 3, 'quantize'), /pinned/, 'production already set: left alone');
  } finally {
    fs.rmSync(repo, { recursive: true, force: true });
  }
});

test('retraining on the newest data: the derived pipeline trains on the days before the last holdout days of the source', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { newestWindowPipeline } = await import('../../../src/rollout/retrain-trigger');
  const { loadFlights } = await import('../features/flights-data');
  const { ROOT } = await import('../../helpers/server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-newest-'));
  try {
    const file = await newestWindowPipeline(path.join(ROOT, 'pipelines/flights-delay-smoke.json'), { train_days: 5, holdout_days: 2 }, dir);
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
    const { train, holdout, evaluate } = cfg.windows;
    assert.equal(train.to, holdout.from);
    assert.equal((Date.parse(train.to) - Date.parse(train.from)) / 86_400_000, 5);
    assert.equal((Date.parse(holdout.to) - Date.parse(holdout.from)) / 86_400_000, 2);
    assert.deepEqual(evaluate, []);
    assert.ok((await loadFlights({ from: holdout.from, to: holdout.to })).rows > 0, 'the holdout holds the newest flights');
    assert.equal((await loadFlights({ from: holdout.to, to: '2002-01-01' })).rows, 0, 'nothing after it');
    assert.ok(cfg.gates.every((g: { windows?: unknown }) => g.windows === undefined || g.windows === 'all' || JSON.stringify(g.windows) === '["holdout"]'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
