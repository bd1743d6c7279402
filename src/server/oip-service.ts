/**
 * The Open Inference Protocol's operations, once, for every transport: REST (routes-oip.ts)
 * and gRPC (grpc-server.ts) decode their own wire format into an InferRequest and encode the
 * answer, and everything between (routing and leases, scheduling parameters, the batchers,
 * shadow copies, monitoring, metrics, the error table) happens here.
 */
import type { RepositoryOp, StatsQuery } from './process-peers';
import { InferaError, toInferaError } from '../errors';
import { numberAt, type DataType, type Tensor } from '../protocol/datatypes';
import type { InferRequest } from '../protocol/oip-codec';
import { parseScheduleParameters } from '../protocol/schedule-params';
import { ModelRepository } from '../repository/model-repository';
import { ModelVersion } from '../serving/model-version';
import { checkModelName } from '../repository/paths';
import { shadowQueues } from '../rollout/shadow-queue';
import type { BackgroundRunner, RunAnswer } from '../runtime/background-runner';
import { failureOutcome, versionRequestMetrics, type ModelMetrics } from '../monitoring/metrics';
import type { HubThread } from '../monitoring/thread/hub-thread';

export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'statistics'];

export interface OipServiceOptions {
  repository: ModelRepository;
  metrics?: ModelMetrics;
  monitoring?: HubThread;
  /** Where shadow runs execute: off the event loop, at idle CPU priority. */
  background: BackgroundRunner;
  /** Has the other serving processes apply a repository change made here (`--processes N`); throws when one could not. */
  propagate?: (op: RepositoryOp) => Promise<void>;
  /** Every serving process's statistics for a query, this one's included (`--processes N`). */
  gatherStats?: (query: StatsQuery) => Promise<unknown[]>;
}

/** Where an infer request is going: the model, an explicit version or alias, a routing key for A/B. */
export interface InferTarget {
  model: string;
  version?: number | string;
  routingKey?: string;
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: DataType; shape: number[] }[];
  outputs: { name: string; datatype: DataType; shape: number[] }[];
}

export interface IndexEntry {
  name: string;
  version?: string;
  state: string;
  reason: string;
}

/** A candidate's run of a shadowed request, after the client has stable's answer. */
interface ShadowInfer {
  rows: number;
  inputs: Tensor[];
  outputs: string[];
  id: string | undefined;
}

export class OipService {
  private readonly shadowQueue: (v: ModelVersion) => { offer: (item: ShadowInfer) => void };

  constructor(private readonly opts: OipServiceOptions) {
    this.shadowQueue = shadowQueues<ModelVersion, ShadowInfer>({
      run: (v, batch) => this.runShadow(v, batch),
      dropped: (v) => opts.metrics?.shadowRequests.inc({ model: v.name, version: String(v.version), outcome: 'dropped' }),
    });
  }

  get repository(): ModelRepository {
    return this.opts.repository;
  }

  /** @throws InferaError 404 for an unknown model or version, 503 when it is not serving. */
  metadata(model: string, version?: number | string): ModelMetadata {
    const mv = this.opts.repository.resolve(checkModelName(model), version);
    const entry = this.opts.repository.get(mv.name)!;
    const versions = version !== undefined ? [mv.version] : [...entry.versions.keys()].sort((a, b) => a - b);
    return {
      name: mv.name,
      versions: versions.map(String),
      platform: 'onnxruntime_onnx',
      inputs: mv.config.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
      outputs: mv.config.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    };
  }

  /**
   * Whether a model (version) serves: true, or false with the reason when it is loaded but
   * unavailable. @throws InferaError 404 for an unknown model or version.
   */
  modelReady(model: string, version?: number | string): { ready: boolean; error?: InferaError } {
    try {
      this.opts.repository.resolve(checkModelName(model), version);
      return { ready: true };
    } catch (e) {
      if (e instanceof InferaError && e.status === 503) return { ready: false, error: e };
      throw e;
    }
  }

  /** The serving versions a statistics request covers: all, one model's, or one version. */
  statsVersions(model?: string, version?: number | string): ModelVersion[] {
    const repo = this.opts.repository;
    if (model !== undefined && version !== undefined) return [repo.resolve(checkModelName(model), version)];
    if (model !== undefined) {
      const entry = repo.get(checkModelName(model));
      if (!entry) throw repo.notServed(checkModelName(model));
      return [...entry.versions.values()].flatMap((v) => (v.serving ? [v.serving] : []));
    }
    return repo.list().flatMap((m) => [...m.versions.values()].flatMap((v) => (v.serving ? [v.serving] : [])));
  }

  /**
   * The statistics extension's answer for the versions statsVersions() names, summed over
   * every serving process (each process contributes the versions it serves).
   * @throws InferaError 404 for an unknown model or version (checked here first).
   */
  async stats(model?: string, version?: number | string): Promise<VersionStats[]> {
    if (!this.opts.gatherStats) return this.statsHere(model, version);
    this.statsVersions(model, version); // throws the 404 here, before asking the other processes
    return mergeVersionStats((await this.opts.gatherStats({ model, version })) as VersionStats[][]);
  }

  /** stats(), of this process only. */
  statsHere(model?: string, version?: number | string): VersionStats[] {
    return this.statsVersions(model, version).map(versionStats);
  }

  /** Every model on disk, and each loaded version's state (a quarantined version is UNAVAILABLE, with why). */
  index(): IndexEntry[] {
    const repo = this.opts.repository;
    const loaded = new Map(repo.list().map((m) => [m.name, m]));
    return repo.scan().flatMap((name): IndexEntry[] => {
      const m = loaded.get(name);
      if (!m) return [{ name, state: 'UNAVAILABLE', reason: 'unloaded' }];
      if (m.versions.size === 0) return [{ name, state: m.state, reason: m.reason ?? '' }];
      return [...m.versions.values()].map((v) => ({ name, version: String(v.version), state: v.serving?.quarantined ? 'UNAVAILABLE' : v.state, reason: v.serving?.quarantined ?? v.reason ?? '' }));
    });
  }

  /**
   * Loads (or reloads) a model from disk, in every serving process. A version that fails
   * leaves the serving one in place.
   * @throws InferaError 503 naming each failure and what still serves.
   */
  async load(model: string): Promise<void> {
    const name = checkModelName(model);
    await this.loadHere(name);
    await this.opts.propagate?.({ kind: 'load', model: name });
  }

  /** load(), in this process only. */
  async loadHere(model: string): Promise<void> {
    const entry = await this.opts.repository.load(checkModelName(model));
    const failed = [...entry.versions.values()].filter((v) => v.state !== 'READY');
    if (entry.state !== 'READY' || failed.length > 0) {
      const reasons = [entry.reason, ...failed.map((v) => `version ${v.version}: ${v.reason ?? v.state}`)].filter(Boolean);
      const serving = [...entry.versions.values()].filter((v) => v.serving).map((v) => v.version);
      const still = serving.length > 0 ? ` (still serving version ${serving.join(', ')})` : '';
      throw new InferaError('ENG_ERR_MODEL_UNAVAILABLE', `failed to load '${entry.name}'${still}: ${reasons.join('; ')}`);
    }
  }

  async unload(model: string): Promise<void> {
    const name = checkModelName(model);
    await this.opts.repository.unload(name);
    await this.opts.propagate?.({ kind: 'unload', model: name });
  }

  /**
   * One infer request, whatever carried it. `decode` turns the wire request into an
   * InferRequest once the version is known (its input datatypes name mismatches early);
   * `answer` encodes and sends the outputs. Metrics, monitoring and shadow copies follow.
   * @throws InferaError (the request's error, already counted) for the transport to answer.
   */
  async infer(target: InferTarget, decode: (mv: ModelVersion) => InferRequest | Promise<InferRequest>, answer: (mv: ModelVersion, req: InferRequest, outputs: Tensor[]) => void): Promise<void> {
    const started = performance.now();
    const { metrics, monitoring } = this.opts;
    // Unversioned requests follow the model's deployment (canary, A/B by routing key).
    const { mv, release, shadow } = this.opts.repository.lease(checkModelName(target.model), target.version, target.routingKey);
    const counted = metrics ? versionRequestMetrics(metrics, mv.name, mv.version) : undefined;
    counted?.pending.inc();
    try {
      const req = await decode(mv);
      const sched = parseScheduleParameters(req.parameters);
      // Shadow mode: the candidate gets its own copy of the inputs (the stable run may consume them).
      const mirror = shadow && !sched.sequence ? req.inputs.map((t) => ({ ...t, data: t.data.slice() as typeof t.data })) : null;
      const outputNames = req.outputs.map((o) => o.name);
      const r = await mv.infer({ inputs: req.inputs, outputs: outputNames, timeoutMs: req.timeoutMs, priority: sched.priority, sequence: sched.sequence });
      answer(mv, req, r.outputs);
      observePredictions(monitoring, mv, r.outputs, req.id, performance.now() - started);
      if (shadow && mirror) this.shadowQueue(shadow).offer({ rows: mirror[0]?.shape[0] ?? 1, inputs: mirror, outputs: outputNames, id: req.id });
      counted?.success.inc();
      counted?.queueSeconds.observe(r.queueMs / 1000);
      counted?.requestSeconds.observe((performance.now() - started) / 1000);
    } catch (e) {
      const err = toInferaError(e);
      if (err.status >= 500) monitoring?.observeError(mv.name, mv.version);
      metrics?.requests.inc({ model: mv.name, version: String(mv.version), outcome: failureOutcome(err.status) });
      throw err;
    } finally {
      release();
      counted?.pending.dec();
    }
  }

  /**
   * A shadow batch's requests go to the background runner together, one message per set of
   * requested outputs, sent at once (the inputs are garbage before the answers come); the
   * candidate runs them in its own process at idle priority, so stable's requests never wait
   * for its compute (runtime/background-runner.ts).
   */
  private runShadow(shadow: ModelVersion, batch: ShadowInfer[]): Promise<void> {
    const started = performance.now();
    // Requests that named no outputs get every output, as on the serving path.
    const groups = new Map<string, ShadowInfer[]>();
    for (const item of batch) {
      const k = item.outputs.join('\u0000');
      const group = groups.get(k);
      if (group) group.push(item);
      else groups.set(k, [item]);
    }
    const sent: Promise<void>[] = [];
    for (const items of groups.values()) {
      const outputs = items[0].outputs.length > 0 ? items[0].outputs : shadow.outputNames;
      // run() never throws: a failure comes back as a rejected answer.
      const answers = this.opts.background.run(shadow, items.map((i) => i.inputs), outputs);
      sent.push(this.shadowAnswered(shadow, answers, items.map((i) => i.id), started));
    }
    return Promise.all(sent).then(() => undefined);
  }

  /** The candidate's answers to one message: its monitoring and prediction log, under the requests' ids. */
  private async shadowAnswered(shadow: ModelVersion, answer: Promise<RunAnswer[]>, ids: (string | undefined)[], started: number): Promise<void> {
    const { metrics, monitoring } = this.opts;
    const labels = { model: shadow.name, version: String(shadow.version) };
    const failed = () => {
      metrics?.shadowRequests.inc({ ...labels, outcome: 'error' });
      monitoring?.observeError(shadow.name, shadow.version);
    };
    let answers: RunAnswer[];
    try {
      answers = await answer;
    } catch {
      for (const _ of ids) failed();
      return;
    }
    const latencyMs = performance.now() - started;
    ids.forEach((id, k) => {
      const a = answers[k];
      if (!a?.outputs) return failed();
      metrics?.shadowRequests.inc({ ...labels, outcome: 'success' });
      observePredictions(monitoring, shadow, a.outputs, id, latencyMs);
    });
  }
}

/** Triton's statistics extension body of one version (REST JSON; gRPC maps the same fields). */
export function versionStats(mv: ModelVersion) {
  const s = mv.stats;
  return {
    name: mv.name,
    version: String(mv.version),
    last_inference: s.lastInference,
    inference_count: s.inferenceCount,
    execution_count: s.executionCount,
    inference_stats: {
      success: { count: s.successCount, ns: Math.round(s.successNs) },
      fail: { count: s.failCount, ns: Math.round(s.failNs) },
      queue: { count: s.successCount, ns: Math.round(s.queueNs) },
      compute_infer: { count: s.successCount, ns: Math.round(s.computeNs) },
    },
    batch_stats: [...s.batches.entries()].sort((a, b) => a[0] - b[0]).map(([size, b]) => ({ batch_size: size, compute_infer: { count: b.count, ns: Math.round(b.ns) } })),
  };
}

export type VersionStats = ReturnType<typeof versionStats>;

/**
 * Sums the statistics of the same versions from several processes: counts and times add, the
 * last inference is the latest, batch sizes are merged. Order: as first seen.
 */
export function mergeVersionStats(lists: readonly VersionStats[][]): VersionStats[] {
  const byKey = new Map<string, VersionStats>();
  const add = (a: { count: number; ns: number }, b: { count: number; ns: number }) => ({ count: a.count + b.count, ns: a.ns + b.ns });
  for (const s of lists.flat()) {
    const key = `${s.name}\u0000${s.version}`;
    const m = byKey.get(key);
    if (!m) {
      byKey.set(key, structuredClone(s));
      continue;
    }
    m.last_inference = Math.max(m.last_inference, s.last_inference);
    m.inference_count += s.inference_count;
    m.execution_count += s.execution_count;
    for (const k of Object.keys(m.inference_stats) as (keyof VersionStats['inference_stats'])[]) m.inference_stats[k] = add(m.inference_stats[k], s.inference_stats[k]);
    const batches = new Map(m.batch_stats.map((b) => [b.batch_size, b]));
    for (const b of s.batch_stats) {
      const have = batches.get(b.batch_size);
      batches.set(b.batch_size, have ? { batch_size: b.batch_size, compute_infer: add(have.compute_infer, b.compute_infer) } : b);
    }
    m.batch_stats = [...batches.values()].sort((x, y) => x.batch_size - y.batch_size);
  }
  return [...byKey.values()];
}

/**
 * Hands an infer response's predictions to monitoring: one value per row of the output
 * /predict reads (the last column: P(positive) for [n, 2]); ids `${id}/${row}`.
 */
function observePredictions(hub: HubThread | undefined, mv: ModelVersion, outputs: Tensor[], id: string | undefined, latencyMs: number): void {
  const name = mv.config.predict?.output;
  const out = hub && name ? outputs.find((t) => t.name === name) : undefined;
  if (!hub || !out || out.shape.length === 0 || out.datatype === 'BYTES') return;
  const rows = out.shape[0];
  const cols = rows > 0 ? out.data.length / rows : 0;
  const predictions = Array.from({ length: rows }, (_, i) => numberAt(out, i * cols + cols - 1));
  const ids = id === undefined ? undefined : rows === 1 ? [id] : predictions.map((_, i) => `${id}/${i}`);
  hub.observe(mv.name, mv.version, { predictions, ids, latencyMs });
}
