/**
 * Servers under test and the loop that measures them: the standard target definitions
 * (Infera, the naive Fastify peer, the uWS hello HTTP ceiling), starting one server at a
 * time (pinned), recording its CPU and flags, and the closed/open-loop HTTP driver shared
 * by the HTTP scenarios.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { cpuSnapshot, cpuUsage, noisyNeighbourFlag } from './cpu';
import type { LoadTarget } from './load';
import { pinPrefix } from './pinning';
import { servingFlags } from '../../src/cli/serving-runtime';
import { copyRepository, type RepoCopy } from './repo-copy';
import { seriesFlags } from './report';
import { closedSeries, openSeries } from './series';
import { freePort, httpRequest, launchServer, type ServerProcess } from './server';
import type { InProcessResult, PinningInfo, PreflightResult, RunOptions, ScenarioContext, TargetResult, TargetRole } from './types';

export const OURS = 'infera';
/** Infera on a copy of the model with `"backend": "native"`: the comparison target of runs before stop 27, read from recorded results. */
export const OURS_NATIVE = 'infera-native';
/** Infera on a copy of the model with `"backend": "onnxruntime"` (flights-delay ships on the native executor since stop 27). */
export const OURS_ONNXRUNTIME = 'infera-onnxruntime';
export const NAIVE = 'naive-fastify';
/** The second naive peer: uWS + onnxruntime-node inline (what a performance-aware Node user writes). */
export const NAIVE_UWS = 'naive-uws';
export const HTTP_CEILING = 'uws-hello';
export const READY_PATH = '/v2/health/ready';
/** Open-loop default rate: this fraction of the naive peer's closed-loop req/s. */
export const OPEN_LOOP_FRACTION = 0.7;
/**
 * Further open-loop rates for ours and the naive peer, as multiples of the base rate
 * (OPEN_LOOP_FRACTION of the naive peer's capacity, or --rate), one repeat each: the
 * "ours ÷ naive at equal p99" ratio reads the highest rung each sustains (ratios.ts).
 */
export const OPEN_LADDER_FULL = [0.25, 0.5, 1.5, 2, 3];
export const OPEN_LADDER_QUICK = [2];

export interface ServerDef {
  name: string;
  role: TargetRole;
  description: string;
  /** Why the target cannot run here, or null when it can. */
  unavailable(repoRoot: string): string | null;
  argv(repoRoot: string, port: number, x: { responseBodyB64: string; pinning: PinningInfo }): string[];
  /** Preflight compares the answers with the in-process model. */
  checksOutputs: boolean;
}

function missingFile(root: string, files: string[]): string | null {
  for (const f of files) if (!existsSync(f)) return `${path.relative(root, f) || f} not found`;
  return null;
}

/** Model repository served by our server (override with BENCH_INFERA_REPOSITORY). */
/** Command line of a Node server script of this package: its own arguments, then listen on 127.0.0.1:port. */
function nodeServerArgv(root: string, script: string, args: string[], port: number, nodeFlags: string[] = []): string[] {
  return [process.execPath, ...nodeFlags, path.join(root, script), ...args, '--port', String(port), '--host', '127.0.0.1'];
}

export function oursRepository(repoRoot: string): string {
  return process.env.BENCH_INFERA_REPOSITORY ?? path.join(repoRoot, 'models');
}

/**
 * Infera (`infera serve`) on a repository holding `models`, started with the serving V8 flags
 * on its own command line (as the CLI would re-launch itself), so the measured pid is the server.
 */
export function inferaServer(o: { name?: string; repository: string; models: string[]; description?: string; extraArgs?: string[] }): ServerDef {
  return {
    name: o.name ?? OURS,
    role: 'ours',
    description: o.description ?? `Infera (\`infera serve\`), model repository ${o.repository} (${o.models.join(', ')}).`,
    unavailable: (root) =>
      missingFile(root, [path.join(root, 'dist/src/cli/main.js'), ...o.models.flatMap((m) => [path.join(o.repository, m, 'model.json')])]),
    argv: (root, port) => nodeServerArgv(root, 'dist/src/cli/main.js', ['serve', '--repository', o.repository, ...(o.extraArgs ?? [])], port, servingFlags()),
    checksOutputs: true,
  };
}

/**
 * Infera on a temp copy of `model` switched to the native backend (fp32): the addon's MLP
 * executor on the libuv pool instead of onnxruntime in a worker thread. Returns the
 * definition and the copy (remove it when done).
 */
export function inferaOnnxruntimeServer(source: string, model: string, extraArgs: string[] = []): { def: ServerDef; copy: RepoCopy } {
  const copy = copyRepository(source, [model], (_m, { precision: _p, ...cfg }) => ({ ...cfg, backend: 'onnxruntime' }), `onnxruntime-${model}`);
  const def = inferaServer({
    name: OURS_ONNXRUNTIME,
    repository: copy.dir,
    models: [model],
    extraArgs,
    description: `Infera with ${model} on onnxruntime (model.json \`"backend": "onnxruntime"\` in a temp copy, ${copy.dir}), the backend it shipped with before the pipeline chose the native executor; otherwise as shipped.`,
  });
  return { def, copy };
}

/** The naive Fastify + onnxruntime-node peer serving one model (and /predict when given a feature spec). */
export function naiveServer(o: { model: string; modelName: string; featureSpec?: string; predictConfig?: string; description?: string }): ServerDef {
  const base =
    'Fastify 5 + onnxruntime-node, one InferenceSession, no batching (bench/peers/naive-fastify.ts). ' +
    "When pinned it gets intraOpNumThreads = the server's core count, so its thread pool matches the cores it is given.";
  return {
    name: NAIVE,
    role: 'naive',
    description: o.description ? `${base} ${o.description}` : base,
    unavailable: (root) => missingFile(root, [path.join(root, 'dist/bench/peers/naive-fastify.js'), o.model, ...(o.featureSpec ? [o.featureSpec] : [])]),
    argv: (root, port, x) =>
      nodeServerArgv(
        root,
        'dist/bench/peers/naive-fastify.js',
        [
          '--model',
          o.model,
          '--model-name',
          o.modelName,
          ...(o.featureSpec && o.predictConfig ? ['--feature-spec', o.featureSpec, '--predict-config', o.predictConfig] : []),
          ...(x.pinning.enabled ? ['--intra-op-threads', String(x.pinning.serverCoreCount)] : []),
        ],
        port,
      ),
    checksOutputs: true,
  };
}

/** The naive uWS + onnxruntime-node peer: one session run inline on the event loop, JSON.parse, no batching (OIP JSON only). */
export function naiveUwsServer(o: { model: string; modelName: string }): ServerDef {
  return {
    name: NAIVE_UWS,
    role: 'naive',
    description:
      'uWebSockets.js + onnxruntime-node, one InferenceSession run inline on the event loop, JSON.parse, no batching, no workers (bench/peers/naive-uws.ts). ' +
      "When pinned it gets intraOpNumThreads = the server's core count.",
    unavailable: (root) => missingFile(root, [path.join(root, 'dist/bench/peers/naive-uws.js'), o.model]),
    argv: (root, port, x) =>
      nodeServerArgv(root, 'dist/bench/peers/naive-uws.js', ['--model', o.model, '--model-name', o.modelName, ...(x.pinning.enabled ? ['--intra-op-threads', String(x.pinning.serverCoreCount)] : [])], port),
    checksOutputs: true,
  };
}

/** The HTTP ceiling: uWS hello world answering a real response body. */
export function uwsHelloServer(): ServerDef {
  return {
    name: HTTP_CEILING,
    role: 'http-ceiling',
    description: 'uWebSockets.js hello world: reads the POST body, answers a fixed body of the same size as the real response (bench/peers/uws-hello.ts).',
    unavailable: (root) => missingFile(root, [path.join(root, 'dist/bench/peers/uws-hello.js')]),
    argv: (root, port, x) => nodeServerArgv(root, 'dist/bench/peers/uws-hello.js', ['--body-b64', x.responseBodyB64], port),
    checksOutputs: false,
  };
}

export function newTarget(def: ServerDef, variant?: string, rowsPerRequest?: number): TargetResult {
  const t: TargetResult = { name: def.name, role: def.role, description: def.description, status: 'skipped', series: [], flags: [] };
  if (variant !== undefined) t.variant = variant;
  if (rowsPerRequest !== undefined) t.rowsPerRequest = rowsPerRequest;
  return t;
}

/** Marks the target skipped when not selected or not runnable here; returns true when it may run. */
export function selectTarget(def: ServerDef, t: TargetResult, opts: RunOptions, ctx: ScenarioContext): boolean {
  if (opts.targets && !opts.targets.includes(def.name)) {
    t.reason = 'not selected (--targets)';
    return false;
  }
  const missing = def.unavailable(ctx.repoRoot);
  if (missing) {
    t.reason = `server unavailable: ${missing}`;
    ctx.log(`${def.name}: skipped (${t.reason})`);
    return false;
  }
  return true;
}

/**
 * Starts the server (pinned), runs `measure` against it, records CPU, status and flags
 * on `t`, stops it. A server that does not start or fails is reported, never thrown.
 */
export async function runOnServer(
  def: ServerDef,
  t: TargetResult,
  ctx: ScenarioContext,
  measure: (baseUrl: string, server: ServerProcess) => Promise<void>,
  o: { responseBodyB64?: string; readyTimeoutMs?: number } = {},
): Promise<void> {
  const port = await freePort();
  const argv = [...pinPrefix(ctx.pinning), ...def.argv(ctx.repoRoot, port, { responseBodyB64: o.responseBodyB64 ?? Buffer.from('{}').toString('base64'), pinning: ctx.pinning })];
  t.command = argv.map((a) => (a.length > 200 ? `${a.slice(0, 40)}…(${a.length} chars)` : a));
  const baseUrl = `http://127.0.0.1:${port}`;
  ctx.log(`${def.name}${t.variant ? ` [${t.variant}]` : ''}: starting on port ${port}`);
  let server: ServerProcess;
  try {
    server = await launchServer({ name: def.name, argv, cwd: ctx.repoRoot, readyUrl: baseUrl + READY_PATH, readyTimeoutMs: o.readyTimeoutMs ?? 60000 });
  } catch (e) {
    t.status = 'failed';
    t.reason = `did not start: ${(e as Error).message}`;
    const tail = (e as { logTail?: string }).logTail;
    if (tail) t.serverLogTail = tail;
    ctx.log(`${def.name}: ${t.reason}`);
    return;
  }
  try {
    const cpu0 = cpuSnapshot(server.pid);
    await measure(baseUrl, server);
    t.cpu = cpuUsage(cpu0, cpuSnapshot(server.pid));
    t.status = 'ok';
    for (const s of t.series) t.flags.push(...seriesFlags(def.name + (t.variant ? ` [${t.variant}]` : ''), s));
    const noisy = noisyNeighbourFlag(def.name + (t.variant ? ` [${t.variant}]` : ''), t.cpu ?? null);
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

// ---------------------------------------------------------------- preflight

export interface PreflightRequest {
  path: string;
  body: Buffer;
  headers?: Record<string, string>;
}

/**
 * Sends each request once; `check` (when the target checks outputs) returns the largest
 * |answer − in-process reference| of a reply, or throws naming what is wrong.
 */
export async function preflight(
  baseUrl: string,
  requests: PreflightRequest[],
  check: ((reply: { body: Buffer; headers: Record<string, string | string[] | undefined> }, i: number) => number) | null,
  tolerance: number,
): Promise<{ res: PreflightResult; sample: Buffer | null }> {
  const res: PreflightResult = { ok: false, status: null, responseBytes: null, checked: 0, maxAbsDiff: null };
  let sample: Buffer | null = null;
  try {
    for (let i = 0; i < requests.length; i++) {
      const q = requests[i];
      const reply = await httpRequest(baseUrl + q.path, 'POST', q.body, 15000, q.headers ?? {});
      res.status = reply.status;
      res.responseBytes = reply.body.length;
      sample ??= reply.body;
      if (reply.status !== 200) throw new Error(`status ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
      if (check) {
        const d = check(reply, i);
        res.maxAbsDiff = Math.max(res.maxAbsDiff ?? 0, d);
        res.checked++;
        if (!(d <= tolerance)) throw new Error(`request ${i}: answer differs from the in-process model by ${d} (> ${tolerance})`);
      }
    }
    res.ok = true;
  } catch (e) {
    res.error = (e as Error).message;
  }
  return { res, sample };
}

// ---------------------------------------------------------------- HTTP driver

/** One request shape a scenario measures (e.g. 64 rows per request). */
export interface HttpVariant {
  variant?: string;
  rowsPerRequest?: number;
  load: Omit<LoadTarget, 'baseUrl'>;
  /** Requests checked before load, and how an answer is compared with the in-process model. */
  preflight: PreflightRequest[];
  check(reply: { body: Buffer; headers: Record<string, string | string[] | undefined> }, i: number): number;
  tolerance: number;
  /** Answer body for the HTTP ceiling when no model server answered. */
  fallbackResponse(): Buffer;
}

export interface HttpRunOutput {
  targets: TargetResult[];
  /** Open-loop rate used per variant (null: not run). */
  openRates: (number | null)[];
  responses: ({ body: Buffer; source: string } | null)[];
}

/**
 * For every server and every variant (a fresh server each): preflight, closed loop at each
 * connection count, then the open loop at the given rate or OPEN_LOOP_FRACTION of the naive
 * peer's closed-loop rate at the largest connection count (the base rate), and for ours and
 * the naive peer the ladder of OPEN_LADDER_* multiples of it. List the naive peer before the
 * HTTP ceiling so that the ceiling can answer a real response body.
 */
export async function runHttpTargets(defs: ServerDef[], variants: HttpVariant[], opts: RunOptions, ctx: ScenarioContext): Promise<HttpRunOutput> {
  const targets: TargetResult[] = [];
  const openRates: (number | null)[] = variants.map(() => opts.rate ?? null);
  const responses: HttpRunOutput['responses'] = variants.map(() => null);
  const mainConns = Math.max(...opts.connections);
  const series = { warmupS: opts.warmupS, durationS: opts.durationS, repeats: opts.repeats, loadgen: opts.loadgen };
  for (const def of defs) {
    for (let v = 0; v < variants.length; v++) {
      const vr = variants[v];
      const t = newTarget(def, vr.variant, vr.rowsPerRequest);
      targets.push(t);
      if (!selectTarget(def, t, opts, ctx)) continue;
      if (def.role === 'http-ceiling' && !responses[v]) responses[v] = { body: vr.fallbackResponse(), source: 'in-process model output, OIP v2 shape' };
      await runOnServer(
        def,
        t,
        ctx,
        async (baseUrl) => {
          const pf = await preflight(baseUrl, vr.preflight, def.checksOutputs ? vr.check : null, vr.tolerance);
          t.preflight = pf.res;
          if (!pf.res.ok) t.flags.push(`${def.name}${vr.variant ? ` [${vr.variant}]` : ''}: preflight failed: ${pf.res.error}`);
          if (pf.sample && def.checksOutputs && pf.res.ok && (def.role === 'ours' || !responses[v])) responses[v] = { body: pf.sample, source: def.name };
          const load: LoadTarget = { baseUrl, ...vr.load };
          for (const c of opts.connections) {
            ctx.log(`  ${def.name}${vr.variant ? ` [${vr.variant}]` : ''}: closed loop, ${c} connection(s)`);
            t.series.push(await closedSeries(load, c, series, ctx.log));
          }
          if (openRates[v] === null && def.role === 'naive') {
            const s = t.series.find((x) => x.connections === mainConns);
            if (s && s.reqPerSec.median > 0) openRates[v] = Math.max(1, Math.round(s.reqPerSec.median * OPEN_LOOP_FRACTION));
          }
          const rate = openRates[v];
          if (rate !== null) {
            ctx.log(`  ${def.name}${vr.variant ? ` [${vr.variant}]` : ''}: open loop, ${rate} req/s`);
            t.series.push(await openSeries(load, rate, mainConns, series, ctx.log));
            if (def.role !== 'http-ceiling') {
              // the ladder for the equal-p99 ratio: one repeat per rung (the base rate above has them all)
              for (const k of opts.quick ? OPEN_LADDER_QUICK : OPEN_LADDER_FULL) {
                const rung = Math.max(1, Math.round(rate * k));
                ctx.log(`  ${def.name}${vr.variant ? ` [${vr.variant}]` : ''}: open-loop ladder, ${rung} req/s (${k}× base)`);
                t.series.push(await openSeries(load, rung, mainConns, { ...series, repeats: 1 }, ctx.log));
              }
            }
          }
        },
        { responseBodyB64: (responses[v]?.body ?? Buffer.from('{}')).toString('base64') },
      );
    }
  }
  return { targets, openRates, responses };
}

// ---------------------------------------------------------------- result pieces

export function byteStats(bodies: Buffer[]): { min: number; max: number; mean: number } {
  const sizes = bodies.map((b) => b.length);
  return { min: Math.min(...sizes), max: Math.max(...sizes), mean: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length) };
}

/** Every target's failure / skip reason and flags, plus a noisy in-process measurement. */
export function collectFlags(targets: TargetResult[], inProcess: InProcessResult | null): string[] {
  const flags: string[] = [];
  for (const t of targets) {
    const who = `${t.name}${t.variant ? ` [${t.variant}]` : ''}`;
    if (t.status === 'failed') flags.push(`${who} FAILED: ${t.reason}`);
    else if (t.status === 'skipped' && t.reason !== 'not selected (--targets)') flags.push(`${who} skipped: ${t.reason}`);
    flags.push(...t.flags);
  }
  const noisy = noisyNeighbourFlag('in-process measurement', inProcess?.cpu ?? null);
  if (noisy) flags.unshift(noisy);
  return flags;
}
