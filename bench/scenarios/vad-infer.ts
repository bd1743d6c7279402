/**
 * Scenario `vad-infer`: one-chunk Silero VAD inference over HTTP JSON (Open
 * Inference Protocol v2). Infera vs a naive Fastify + onnxruntime-node server
 * vs a uWebSockets.js hello world (HTTP ceiling), with the same real-speech
 * bodies and the same connections, plus the in-process model ceiling.
 */
import * as path from 'node:path';
import { ceilingWorkers, measureInProcess } from '../lib/ceiling';
import { VAD_INFER_PATH, oipVadResponse, parseVadOutput, vadInferBody } from '../lib/oip';
import { pinProcess } from '../lib/pinning';
import { oneCoreLimitRatio, subjectRatios, type RatioInput } from '../lib/ratios';
import { measureOipJsonCodec } from '../lib/codec-cost';
import { assembleResult, startClock } from '../lib/result';
import { HTTP_CEILING, NAIVE, NAIVE_UWS, OURS, inferaServer, naiveServer, naiveUwsServer, oursRepository, runHttpTargets, uwsHelloServer, type ServerDef } from '../lib/targets';
import type { BenchResult, RatioEntry, RunOptions, Scenario, ScenarioContext } from '../lib/types';
import { speechInputInfo, vadFeeds, vadModelPath, vadReferenceOutputs } from '../lib/vad';
import { loadSpeechChunks } from '../lib/wav';

export { HTTP_CEILING, NAIVE, NAIVE_UWS, OURS } from '../lib/targets';
export { findSeries } from '../lib/ratios';
export const CEILING_BATCHES = [1, 32];
/** |server output - in-process output| allowed in the preflight check. */
export const OUTPUT_TOLERANCE = 1e-3;

export function vadTargets(root: string): ServerDef[] {
  const repo = oursRepository(root);
  return [
    naiveServer({ model: vadModelPath(root), modelName: 'vad' }),
    naiveUwsServer({ model: vadModelPath(root), modelName: 'vad' }),
    inferaServer({ repository: repo, models: ['vad'] }),
    uwsHelloServer(),
  ];
}

/**
 * Ours first (the headline), against each naive peer, then the naive peers' own figures.
 * `ours_*` compare with the Fastify peer, `ours_vs_uws_*` with the uWS peer (count the stronger).
 */
export function computeVadRatios(r: RatioInput, names = { ours: OURS, naive: NAIVE, naiveUws: NAIVE_UWS, http: HTTP_CEILING }): RatioEntry[] {
  const uws = { ...names, naive: names.naiveUws };
  const hasUws = r.targets.some((t) => t.name === names.naiveUws);
  return [
    ...subjectRatios(r, names.ours, 'ours', names),
    oneCoreLimitRatio(r, names.ours, 'ours', names),
    ...(hasUws ? subjectRatios(r, names.ours, 'ours_vs_uws', uws).filter((e) => e.key.startsWith('ours_vs_uws_over_naive')) : []),
    ...subjectRatios(r, names.naive, 'naive', names),
    oneCoreLimitRatio(r, names.naive, 'naive', names),
    ...(hasUws ? [...subjectRatios(r, names.naiveUws, 'naive_uws', uws), oneCoreLimitRatio(r, names.naiveUws, 'naive_uws', uws)] : []),
  ];
}

export const scenario: Scenario = {
  name: 'vad-infer',
  description:
    'One-chunk Silero VAD v4 inference (1536 samples of real speech, zero state) over HTTP JSON, Open Inference Protocol v2: ' +
    'Infera vs two naive servers (Fastify + onnxruntime-node; uWS + onnxruntime-node inline) vs a uWebSockets.js hello world (HTTP ceiling), same bodies and connections, ' +
    'plus onnxruntime-node in-process (model ceiling).',

  async run(opts: RunOptions, ctx: ScenarioContext): Promise<BenchResult> {
    const clock = startClock();
    const root = ctx.repoRoot;
    const speech = loadSpeechChunks();
    const bodies = speech.chunks.map((c, k) => Buffer.from(vadInferBody(String(k), c, speech.sampleRate)));
    ctx.log(`input: ${speech.path}, ${speech.chunks.length} chunks`);
    const modelPath = vadModelPath(root);
    const n = speech.chunks.length;
    const checkIdx = [...new Set([0, Math.floor(n / 4), Math.floor(n / 2), Math.floor((3 * n) / 4), n - 1])];
    const refs = await vadReferenceOutputs(modelPath, speech.chunks, speech.sampleRate);

    // 1. in-process ceiling, before pinning (workers may use every core)
    ctx.log('in-process ceiling');
    const inProcess = await measureInProcess(
      (batch) => ({ modelPath, rows: batch, feeds: vadFeeds(speech.chunks, batch, speech.sampleRate) }),
      { model: path.relative(root, modelPath), workers: ceilingWorkers(ctx), batches: CEILING_BATCHES },
      opts,
      ctx,
    );

    // The codec term of the one-core limit: Infera's own JSON codec (the fastest measured
    // here) on the same bodies, answering `output` as the server does.
    inProcess.codec = await measureOipJsonCodec(
      bodies,
      (i) => [{ name: 'output', datatype: 'FP32', shape: [1, 1], data: new Float32Array([refs[i]]) }],
      { repeats: opts.repeats, seconds: opts.quick ? 0.5 : 2, what: 'src/protocol/oip-codec.ts decodeInferRequest (native number scan on the calling thread) + encodeInferResponse of `output`' },
    );
    ctx.log(`  codec: decode ${inProcess.codec.decodeUs.median} µs, encode ${inProcess.codec.encodeUs.median} µs per request`);

    // 2. pin the load generator (this process) to its core
    if (ctx.pinning.enabled && ctx.pinning.loadgenCpus) pinProcess(process.pid, ctx.pinning.loadgenCpus);
    ctx.log(`pinning: ${ctx.pinning.note}`);

    const out = await runHttpTargets(
      vadTargets(root),
      [
        {
          load: { path: VAD_INFER_PATH, bodies },
          preflight: checkIdx.map((k) => ({ path: VAD_INFER_PATH, body: bodies[k] })),
          check: (reply, i) => Math.abs(parseVadOutput(reply.body.toString('utf8')) - refs[checkIdx[i]]),
          tolerance: OUTPUT_TOLERANCE,
          fallbackResponse: () => Buffer.from(oipVadResponse('0', refs[0])),
        },
      ],
      opts,
      ctx,
    );
    const openRate = out.openRates[0];
    return assembleResult(
      {
        scenario: 'vad-infer',
        description: this.description,
        clock,
        input: speechInputInfo(speech),
        inProcess,
        targets: out.targets,
        bodies,
        openLoopRate: openRate,
        response: out.responses[0],
        flags: openRate === null ? ['open loop not run: no rate (naive peer not measured; pass --rate)'] : [],
        ratios: (base) => computeVadRatios(base),
      },
      opts,
      ctx,
    );
  },
};
