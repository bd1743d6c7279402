// The canary's quality test on real predictions: flights-delay v1 (the committed model) run in
// process on real March 2001 flights with their real labels.
//  - Hanley & McNeil's AUC variance against the bootstrap variance of the same samples;
//  - A/A: the same model in both arms, rows split 20/80 at random, checked after every 400
//    requests up to 20,000 (as the controller checks): the share of replays that end in a
//    decision (necessarily wrong) is the false-decision rate the mSPRT bounds by alpha.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadFeatureSpec, transform } from '../../../src/features';
import { auc } from '../../../src/stats/classification';
import { aucVariance, compareArms, mixtureLambda } from '../../../src/rollout/sequential-test';
import { loadFlights } from '../features/flights-data';
import { MODELS } from '../../helpers/server';

let labels: Float64Array;
let outputs: Float64Array;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

before(async () => {
  const dir = path.join(MODELS, 'flights-delay/1');
  const f = await loadFlights({ from: '2001-03-01', to: '2001-04-01' }, 60_000);
  const spec = loadFeatureSpec(path.join(dir, 'feature_spec.json'));
  const t = transform(spec, { date: f.date, distance: f.distance, origin: f.origin, destination: f.destination });
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
  const out = await session.run({ features: new ort.Tensor('float32', t.data, [f.rows, t.width]) });
  await session.release();
  outputs = Float64Array.from(out.probability.data as Float32Array);
  labels = Float64Array.from(f.delay, (d) => (d > 15 ? 1 : 0));
});

test('Hanley–McNeil AUC variance is within 30 % of the bootstrap variance on real samples of 500, 2,000 and 8,000 rows', () => {
  const draw = lcg(7);
  for (const n of [500, 2000, 8000]) {
    const idx = Array.from({ length: n }, () => Math.floor(draw() * labels.length));
    const y = idx.map((i) => labels[i]);
    const p = idx.map((i) => outputs[i]);
    const a = auc(y, p);
    const pos = y.filter((v) => v === 1).length;
    const hm = aucVariance(a, pos, n - pos);
    const boots: number[] = [];
    for (let b = 0; b < 300; b++) {
      const k = Array.from({ length: n }, () => Math.floor(draw() * n));
      boots.push(auc(k.map((i) => y[i]), k.map((i) => p[i])));
    }
    const mean = boots.reduce((s, v) => s + v, 0) / boots.length;
    const boot = boots.reduce((s, v) => s + (v - mean) ** 2, 0) / (boots.length - 1);
    assert.ok(Math.abs(hm / boot - 1) <= 0.3, `n ${n}: Hanley–McNeil ${hm.toExponential(3)} vs bootstrap ${boot.toExponential(3)}`);
  }
});

test('A/A replays at a 20 % canary: at most 10 % of 100 end in a decision (the bound is alpha = 5 %; the measured rate is reported)', (t) => {
  const runs = 100;
  let decided = 0;
  for (let r = 0; r < runs; r++) {
    const draw = lcg(1000 + r);
    const s = { labels: [] as number[], outputs: [] as number[] };
    const c = { labels: [] as number[], outputs: [] as number[] };
    for (let k = 1; k <= 20_000; k++) {
      const i = Math.floor(draw() * labels.length);
      const arm = draw() < 0.2 ? c : s;
      arm.labels.push(labels[i]);
      arm.outputs.push(outputs[i]);
      if (k % 400 === 0 && c.labels.length >= 200 && compareArms(s, c, 0.05, 0.04).decision) {
        decided++;
        break;
      }
    }
  }
  t.diagnostic(`A/A: ${decided} of ${runs} replays ended in a (wrong) decision`);
  assert.ok(decided / runs <= 0.1, `${decided} of ${runs}`);
});

test('the mixture statistic: 1 without evidence, growing with |difference| / standard error', () => {
  assert.equal(mixtureLambda(0.1, 0, 0.04), 1);
  assert.ok(mixtureLambda(0, 1e-4, 0.04) < 1, 'no difference: below 1');
  assert.ok(mixtureLambda(0.05, 1e-4, 0.04) > 20, 'a 5-standard-error difference crosses 1/alpha');
  assert.ok(mixtureLambda(-0.05, 1e-4, 0.04) === mixtureLambda(0.05, 1e-4, 0.04), 'symmetric');
});

test('guardrails without labels roll a candidate back within 500 of its requests: collapsed predictions, a raised error rate', async () => {
  const { ModelRegistry } = await import('../../../src/registry/registry');
  const { PredictionLog } = await import('../../../src/monitoring/prediction-log');
  const { RolloutController } = await import('../../../src/rollout/rollout-controller');
  const setup = () => {
    const registry = new ModelRegistry(':memory:');
    registry.register('flights-delay', 1, 'test');
    registry.register('flights-delay', 2, 'test');
    registry.deploy('flights-delay', { stable: 1, candidate: 2, mode: 'canary', share: 0.2 }, 'test');
    const log = new PredictionLog();
    return { registry, log, controller: new RolloutController({ registry, log }) };
  };
  // Collapsed: the candidate answers every request with what v1 says for one real flight.
  {
    const { registry, log, controller } = setup();
    await controller.tick(['flights-delay']);
    let candidateRequests = 0;
    let decided = null;
    const draw = lcg(3);
    for (let k = 0; k < 5000 && !decided; k++) {
      const i = Math.floor(draw() * outputs.length);
      if (draw() < 0.2) {
        controller.observe('flights-delay', 2, [outputs[0]], 2);
        candidateRequests++;
      } else controller.observe('flights-delay', 1, [outputs[i]], 2);
      if (k % 50 === 49) decided = (await controller.tick(['flights-delay']))[0] ?? null;
    }
    assert.ok(decided, 'decided');
    assert.equal(decided.rule, 'prediction_collapse');
    assert.equal(decided.action, 'rollback');
    assert.ok(candidateRequests <= 500, `${candidateRequests} candidate requests`);
    assert.equal(registry.deployment('flights-delay')?.candidate, null, 'applied');
    log.close();
    registry.close();
  }
  // Errors: 10 % of the candidate's requests fail, none of stable's.
  {
    const { registry, log, controller } = setup();
    await controller.tick(['flights-delay']);
    let candidateRequests = 0;
    let decided = null;
    const draw = lcg(4);
    for (let k = 0; k < 5000 && !decided; k++) {
      const i = Math.floor(draw() * outputs.length);
      if (draw() < 0.2) {
        candidateRequests++;
        controller.observe('flights-delay', 2, candidateRequests % 10 === 0 ? null : [outputs[i]], 2);
      } else controller.observe('flights-delay', 1, [outputs[i]], 2);
      if (k % 50 === 49) decided = (await controller.tick(['flights-delay']))[0] ?? null;
    }
    assert.ok(decided);
    assert.equal(decided.rule, 'error_rate');
    assert.ok(candidateRequests <= 500, `${candidateRequests} candidate requests`);
    log.close();
    registry.close();
  }
});

test('the latency guardrail rolls back a candidate whose p99 passes twice stable\'s, within 500 of its requests; latencies are real run times', async () => {
  const { ModelRegistry } = await import('../../../src/registry/registry');
  const { PredictionLog } = await import('../../../src/monitoring/prediction-log');
  const { RolloutController } = await import('../../../src/rollout/rollout-controller');
  // Real timings of the real model: stable answers one flight per run, the candidate's every
  // request costs a run over 256 flights (what a model about 100× heavier costs per row).
  const dir = path.join(MODELS, 'flights-delay/1');
  const f = await loadFlights({ from: '2001-03-01', to: '2001-03-02' }, 256);
  const t = transform(loadFeatureSpec(path.join(dir, 'feature_spec.json')), { date: f.date, distance: f.distance, origin: f.origin, destination: f.destination });
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { intraOpNumThreads: 1 });
  const timed = async (rows: number): Promise<number> => {
    const x = new ort.Tensor('float32', t.data.slice(0, rows * t.width), [rows, t.width]);
    const t0 = performance.now();
    await session.run({ features: x });
    return performance.now() - t0;
  };
  const registry = new ModelRegistry(':memory:');
  registry.register('flights-delay', 1, 'test');
  registry.register('flights-delay', 2, 'test');
  registry.deploy('flights-delay', { stable: 1, candidate: 2, mode: 'canary', share: 0.2 }, 'test');
  const log = new PredictionLog();
  // The default floor (50 ms) is for network-scale tails; this model runs in well under one.
  const controller = new RolloutController({ registry, log, config: { latency_floor_ms: 0.2 } });
  await controller.tick(['flights-delay']);
  let candidateRequests = 0;
  let decided = null;
  const draw = lcg(5);
  const slower: number[] = [];
  for (let k = 0; k < 5000 && !decided; k++) {
    const i = Math.floor(draw() * outputs.length);
    if (draw() < 0.2) {
      const ms = await timed(256);
      slower.push(ms);
      controller.observe('flights-delay', 2, [outputs[i]], ms);
      candidateRequests++;
    } else controller.observe('flights-delay', 1, [outputs[i]], await timed(1));
    if (k % 50 === 49) decided = (await controller.tick(['flights-delay']))[0] ?? null;
  }
  await session.release();
  assert.ok(decided, 'decided');
  assert.equal(decided.rule, 'latency_p99');
  assert.equal(decided.action, 'rollback');
  const ev = decided.evidence as { value: number; limit: number };
  assert.ok(ev.value > ev.limit && ev.limit > 0, JSON.stringify(ev));
  assert.ok(candidateRequests <= 500, `${candidateRequests} candidate requests`);
  assert.equal(registry.deployment('flights-delay')?.candidate, null, 'applied');
  log.close();
  registry.close();
});
