/**
 * Scenario `predict-one-row`: POST /predict on flights-delay, one real February 2001
 * flight per request (feature dict → the saved feature spec's transform → the MLP).
 * Infera vs the naive Fastify peer running the same transform (src/features) and one
 * session without batching vs the uWS hello HTTP ceiling; in-process ceiling =
 * validateRow + transform + onnxruntime-node in the bench process.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ceilingWorkers, measureInProcess } from '../lib/ceiling';
import {
  FLIGHTS_TOLERANCE,
  PREDICT_PATH,
  featureDict,
  flightsInputInfo,
  flightsModelFiles,
  flightsParquet,
  flightsReference,
  loadFebruaryFlights,
  loadSpec,
  parsePredict,
  predictBody,
  prepareTensor,
} from '../lib/flights';
import { pinProcess } from '../lib/pinning';
import { bestCeiling, entry, findSeries, subjectRatios, type RatioInput } from '../lib/ratios';
import { assembleResult, startClock } from '../lib/result';
import { ratio } from '../lib/stats';
import { removeOnExit } from '../lib/repo-copy';
import { HTTP_CEILING, NAIVE, OURS, OURS_NATIVE, OURS_ONNXRUNTIME, inferaOnnxruntimeServer, inferaServer, naiveServer, oursRepository, runHttpTargets, uwsHelloServer } from '../lib/targets';
import type { BenchResult, RatioEntry, RunOptions, Scenario, ScenarioContext } from '../lib/types';

export const PREDICT_CEILING_BATCHES = [1, 64];

export function computePredictRatios(r: RatioInput): RatioEntry[] {
  const names = { naive: NAIVE, http: HTTP_CEILING };
  const main = Math.max(...r.config.connections);
  const s = findSeries(r, OURS, 'closed', main);
  const c1 = bestCeiling(r, r.pinning.serverCoreCount, 1);
  const unbatched = entry(
    'ours_over_inprocess_batch1',
    `${OURS} rows/s ÷ in-process transform + run at batch 1 (${r.pinning.serverCoreCount} worker(s))`,
    'x',
    'median req/s ÷ median in-process rows/s (batch 1)',
    ratio(s?.reqPerSec.median, c1?.rowsPerSec.median),
    !s ? `${OURS} has no ${main}-connection run` : 'no batch-1 in-process ceiling',
  );
  const has = (name: string) => r.targets.some((t) => t.name === name);
  const native = has(OURS_NATIVE) ? subjectRatios(r, OURS_NATIVE, 'ours_native', names) : [];
  const onnxruntime = has(OURS_ONNXRUNTIME) ? subjectRatios(r, OURS_ONNXRUNTIME, 'ours_onnxruntime', names) : [];
  return [...subjectRatios(r, OURS, 'ours', names), unbatched, ...native, ...onnxruntime, ...subjectRatios(r, NAIVE, 'naive', names)];
}

export const scenario: Scenario = {
  name: 'predict-one-row',
  description:
    'POST /predict on flights-delay with one real February 2001 flight per request (feature dict → saved feature spec transform → MLP): ' +
    'Infera (result cache off) vs a naive Fastify + onnxruntime-node server running the same transform (src/features) and one session, no batching, ' +
    'vs a uWebSockets.js hello world (HTTP ceiling); plus transform + onnxruntime-node in process (ceiling).',

  async run(opts: RunOptions, ctx: ScenarioContext): Promise<BenchResult> {
    const clock = startClock();
    const root = ctx.repoRoot;
    const repo = oursRepository(root);
    const files = flightsModelFiles(repo);
    const flights = await loadFebruaryFlights(flightsParquet(root), opts.quick ? 2048 : 8192);
    const spec = loadSpec(files.featureSpec);
    const tensor = prepareTensor(spec, flights);
    const refs = await flightsReference(files.model, tensor.data, tensor.width);
    const bodies = Array.from({ length: flights.rows }, (_, i) => predictBody(flights, i));
    const dicts = Array.from({ length: flights.rows }, (_, i) => featureDict(flights, i) as Record<string, unknown>);
    ctx.log(`input: ${flights.rows} February 2001 flights, /predict bodies of ${bodies[0].length} bytes`);

    ctx.log('in-process ceiling (validateRow + transform + session.run)');
    const inProcess = await measureInProcess(
      (batch) => {
        const batches: Record<string, unknown>[][] = [];
        for (let i = 0; i + batch <= Math.min(dicts.length, 4096); i += batch) batches.push(dicts.slice(i, i + batch));
        return { modelPath: files.model, rows: batch, predict: { specPath: files.featureSpec, input: 'features', batches } };
      },
      { model: path.relative(root, files.model), what: 'validateRow + transform of real feature dicts, then session.run', workers: ceilingWorkers(ctx), batches: PREDICT_CEILING_BATCHES },
      opts,
      ctx,
    );

    if (ctx.pinning.enabled && ctx.pinning.loadgenCpus) pinProcess(process.pid, ctx.pinning.loadgenCpus);
    ctx.log(`pinning: ${ctx.pinning.note}`);

    const n = flights.rows;
    const checkIdx = [...new Set([0, 1, Math.floor(n / 3), Math.floor(n / 2), Math.floor((2 * n) / 3), n - 1])];
    const cacheOff = ['--predict-cache', '0'];
    const onnxruntime = inferaOnnxruntimeServer(repo, 'flights-delay', cacheOff);
    const cleanup = removeOnExit([onnxruntime.copy]);
    const defs = [
      naiveServer({ model: files.model, modelName: 'flights-delay', featureSpec: files.featureSpec, predictConfig: files.modelJson, description: 'POST /predict: validateRow + transform (src/features) + session.run at batch 1.' }),
      inferaServer({
        repository: repo,
        models: ['flights-delay'],
        extraArgs: cacheOff,
        description: `Infera (\`infera serve --predict-cache 0\`), repository ${repo} as shipped: /predict → feature spec transform → dynamic batcher → onnxruntime worker. The result cache is off: autocannon's connections walk the same body list in lockstep, so a cache would answer most requests.`,
      }),
      onnxruntime.def,
      uwsHelloServer(),
    ];
    const out = await runHttpTargets(
      defs,
      [
        {
          load: { path: PREDICT_PATH, bodies },
          preflight: checkIdx.map((k) => ({ path: PREDICT_PATH, body: bodies[k] })),
          check: (reply, i) => Math.abs(parsePredict(reply.body) - refs[checkIdx[i]]),
          tolerance: FLIGHTS_TOLERANCE,
          fallbackResponse: () =>
            Buffer.from(JSON.stringify({ prediction: 'on_time', confidence: 1 - refs[0], probabilities: [1 - refs[0], refs[0]], model: 'flights-delay', model_version: '1', processing_time_ms: 0.1, from_cache: false })),
        },
      ],
      opts,
      ctx,
    ).finally(cleanup);
    const openRate = out.openRates[0];
    return assembleResult(
      {
        scenario: 'predict-one-row',
        description: this.description,
        clock,
        input: flightsInputInfo(flights, 'one /predict feature dict per request', { featureWidth: tensor.width }),
        inProcess,
        targets: out.targets,
        bodies,
        openLoopRate: openRate,
        response: out.responses[0],
        settings: { predictCache: 0, shippedBatching: JSON.parse(readFileSync(files.modelJson, 'utf8')).batching },
        flags: openRate === null ? ['open loop not run: no rate (naive peer not measured; pass --rate)'] : [],
        ratios: computePredictRatios,
      },
      opts,
      ctx,
    );
  },
};
