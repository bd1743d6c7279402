import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelConfig, VersionPolicy, parseModelConfig } from '../config/model-config';
import { InferaError } from '../errors';
import { Backend, LoadOptions, ModelMetadata } from '../runtime/backend';
import type { ModelMetrics } from '../monitoring/metrics';
import { ModelVersion } from '../serving/model-version';
import { checkModelName, resolveInside } from './paths';
import { checkAgainstModelFile, versionConfig } from './metadata-check';
import { SandboxOptions, validateInSandbox } from './sandbox';
import { versionDigest } from './version-digest';
import { FeatureSpec, loadFeatureSpec } from '../features';
import { rangesFromCard } from '../protocol/feature-ranges';
import { referencedVersions, type Deployment, type ModelRegistry } from '../registry/registry';
import { routeRequest } from '../registry/traffic';

export type ModelState = 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';

export interface VersionEntry {
  version: number;
  state: ModelState;
  reason?: string;
  serving?: ModelVersion;
}

export interface ModelEntry {
  name: string;
  config?: ModelConfig;
  state: ModelState;
  reason?: string;
  versions: Map<number, VersionEntry>;
}

export interface RepositoryOptions {
  root: string;
  /** Aliases and deployments: which versions stay loaded and which one serves a request. */
  registry?: ModelRegistry;
  /** model.json `batching` fields for models that leave them out (the server config's). */
  batchingDefaults?: Record<string, unknown>;
  backend: Backend;
  /** Backend for model.json `backend: "native"` (the addon's MLP executor); created on first use. */
  nativeBackend?: () => Backend;
  /** Batches a version may run at once (the worker count). */
  maxInFlight: number;
  /** CPUs the server may run on (decides where batches run); default os.availableParallelism(). */
  cores?: number;
  /** Open each new onnxruntime version in a disposable child first (sandbox.ts); null = off. */
  sandbox?: SandboxOptions | null;
  metrics?: ModelMetrics;
  log?: (obj: Record<string, unknown>, msg: string) => void;
  /**
   * How long a version the registry stopped naming (a promotion, a canary ended) stays loaded,
   * so that going back to it is a routing change, not a load (Argo Rollouts' scale-down delay).
   * Default 60 s; 0 retires it at once.
   */
  keepWarmMs?: number;
  /** Versions loaded whatever the version policy says (batch scoring of a named version). */
  pinned?: Record<string, number[]>;
}

export const DEFAULT_KEEP_WARM_MS = 60_000;

/** Integer version folders present on disk, ascending. */
export function versionsOnDisk(dir: string): number[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^[1-9][0-9]{0,8}$/.test(d.name))
    .map((d) => Number(d.name))
    .sort((a, b) => a - b);
}

/** Model folders of a repository: those with a model.json and an allowed name, sorted. */
export function modelsOnDisk(root: string): string[] {
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(root, d.name, 'model.json')))
    .map((d) => d.name)
    .filter((n) => {
      try {
        checkModelName(n);
        return true;
      } catch {
        return false;
      }
    })
    .sort();
}

export function selectVersions(available: number[], policy: VersionPolicy): number[] {
  if ('latest' in policy) return available.slice(-policy.latest);
  if ('specific' in policy) return available.filter((v) => policy.specific.includes(v));
  return available;
}

/**
 * The model repository on disk and the versions loaded from it. A model or
 * version that fails to load is UNAVAILABLE with its reason; the others serve on.
 * A reload that fails keeps the version that was serving.
 */
/** What routing reads of the registry for one model, swapped in whole once its versions serve. */
interface Routing {
  deployment: Deployment | null;
  aliases: Record<string, number>;
}

export class ModelRepository {
  private readonly models = new Map<string, ModelEntry>();
  private readonly routing = new Map<string, Routing>();
  private readonly loading = new Map<string, Promise<ModelEntry>>();
  /** Per model: versions the registry no longer names, and until when they stay loaded (ms). */
  private readonly warm = new Map<string, Map<number, number>>();

  constructor(private readonly opts: RepositoryOptions) {}

  get root(): string {
    return this.opts.root;
  }

  /** Model folders on disk (those with a model.json). */
  scan(): string[] {
    return modelsOnDisk(this.opts.root);
  }

  async loadAll(): Promise<void> {
    for (const name of this.scan()) await this.load(name);
  }

  /**
   * Loads (or reloads) every selected version of one model. Loads of one model run one at a
   * time (a registry sync and an API call must not decide "wanted" from different states).
   */
  load(name: string, opts: { onlyMissing?: boolean } = {}): Promise<ModelEntry> {
    checkModelName(name);
    const run = (this.loading.get(name) ?? Promise.resolve()).catch(() => undefined).then(() => this.loadNow(name, opts.onlyMissing ?? false));
    this.loading.set(name, run);
    void run.finally(() => {
      if (this.loading.get(name) === run) this.loading.delete(name);
    }).catch(() => undefined);
    return run;
  }

  /** onlyMissing: versions already serving stay as they are (a registry change, not a reload). */
  private async loadNow(name: string, onlyMissing: boolean): Promise<ModelEntry> {
    const dir = resolveInside(this.opts.root, name);
    const file = path.join(dir, 'model.json');
    if (!fs.existsSync(file)) throw new InferaError('ENG_ERR_MODEL_NOT_FOUND', `no model '${name}' in the repository (no ${name}/model.json)`);
    const entry = this.models.get(name) ?? { name, state: 'LOADING' as ModelState, versions: new Map<number, VersionEntry>() };
    this.models.set(name, entry);
    let config: ModelConfig;
    try {
      config = parseModelConfig(JSON.parse(fs.readFileSync(file, 'utf8')), `${name}/model.json`, name, this.opts.batchingDefaults);
    } catch (e) {
      const reason = e instanceof SyntaxError ? `${name}/model.json: ${e.message}` : (e as Error).message;
      if (![...entry.versions.values()].some((v) => v.serving)) {
        entry.state = 'UNAVAILABLE';
        entry.reason = reason;
      }
      this.opts.log?.({ model: name, reason }, 'model config rejected');
      return entry;
    }
    const onDisk = versionsOnDisk(dir);
    const registry = this.opts.registry;
    for (const v of onDisk) registry?.register(name, v, 'repository', `${name}/${v}`);
    // The version policy's versions, plus every version an alias or the deployment names,
    // now (the registry) or until the routing below is swapped (the versions routed to now).
    const routed = this.routing.get(name);
    const referenced = registry ? [...registry.referenced(name), ...(routed ? referencedVersions(routed) : []), ...this.keptWarm(name, registry.referenced(name), routed)].filter((v) => onDisk.includes(v)) : [];
    const pinned = (this.opts.pinned?.[name] ?? []).filter((v) => onDisk.includes(v));
    const wanted = [...new Set([...selectVersions(onDisk, config.version_policy), ...referenced, ...pinned])].sort((a, b) => a - b);
    for (const v of wanted) if (!(onlyMissing && entry.versions.get(v)?.serving)) await this.loadVersion(entry, config, v);
    // A version the policy no longer selects is retired only once every selected version
    // serves: a failed new version must never take down the one serving now (Triton).
    const replaced = wanted.length > 0 && wanted.every((v) => entry.versions.get(v)?.serving);
    const retired: ModelVersion[] = [];
    for (const [v, ve] of entry.versions) {
      if (wanted.includes(v) || (ve.serving && !replaced)) continue;
      entry.versions.delete(v);
      if (ve.serving) retired.push(ve.serving);
    }
    for (const mv of retired) this.retire(mv);
    // Routing switches only now, with every version it names loaded (or failed: see route()).
    if (registry) this.routing.set(name, { deployment: registry.deployment(name), aliases: registry.aliases(name) });
    entry.config = config;
    const ready = [...entry.versions.values()].some((v) => v.state === 'READY');
    entry.state = ready ? 'READY' : 'UNAVAILABLE';
    entry.reason = ready ? undefined : wanted.length === 0 ? 'no version folder matches the version policy' : 'no version could be loaded';
    return entry;
  }

  /**
   * The versions kept loaded for a while after the registry stopped naming them: those routed
   * to until now and named no more start their time; the next load after it retires them.
   */
  private keptWarm(name: string, named: number[], routed: Routing | undefined): number[] {
    const keepMs = this.opts.keepWarmMs ?? DEFAULT_KEEP_WARM_MS;
    const warm = this.warm.get(name) ?? new Map<number, number>();
    const now = Date.now();
    for (const v of routed ? referencedVersions(routed) : []) {
      if (named.includes(v) || keepMs <= 0) continue;
      warm.set(v, now + keepMs);
      setTimeout(() => {
        if (this.models.has(name)) void this.load(name, { onlyMissing: true }).catch(() => undefined);
      }, keepMs + 10).unref();
    }
    for (const [v, until] of warm) if (named.includes(v) || until <= now) warm.delete(v);
    this.warm.set(name, warm);
    return [...warm.keys()];
  }

  private async loadVersion(entry: ModelEntry, config: ModelConfig, version: number): Promise<void> {
    const name = entry.name;
    const prev = entry.versions.get(version);
    const ve: VersionEntry = prev ?? { version, state: 'LOADING' };
    entry.versions.set(version, ve);
    const key = `${name}/${version}#${Date.now().toString(36)}`;
    try {
      const modelPath = resolveInside(this.opts.root, name, String(version), 'model.onnx');
      if (!fs.existsSync(modelPath)) throw new Error(`${name}/${version}/model.onnx does not exist`);
      const backend = this.backendFor(config);
      if (config.backend !== 'native' && this.opts.sandbox) {
        const checked = await validateInSandbox(modelPath, config.instance.intra_op_threads, this.opts.sandbox);
        checkAgainstModelFile(config, checked.metadata, `${name}/model.json`);
        this.opts.log?.({ model: name, version, warmRun: checked.warm }, 'model version validated in a sandbox');
      }
      const metadata: ModelMetadata = await backend.load(key, modelPath, { intraOpThreads: config.instance.intra_op_threads, precision: config.precision } as LoadOptions);
      checkAgainstModelFile(config, metadata, `${name}/model.json`);
      // Dims model.json leaves open take this version's sizes (e.g. its feature width).
      const vcfg = versionConfig(config, metadata);
      const mv = new ModelVersion(name, version, vcfg, metadata, backend, this.opts.maxInFlight, this.opts.metrics, key, this.opts.cores ?? os.availableParallelism());
      mv.modelPath = modelPath;
      if (vcfg.feature_spec) {
        mv.featureSpecPath = resolveInside(this.opts.root, name, String(version), vcfg.feature_spec);
        mv.featureSpec = this.loadSpec(vcfg, name, version, mv.featureSpecPath);
      }
      const card = path.join(this.opts.root, name, String(version), 'card.json');
      if (config.predict && fs.existsSync(card)) mv.featureRanges = rangesFromCard(JSON.parse(fs.readFileSync(card, 'utf8')));
      if (config.predict) mv.digest = await versionDigest(modelPath, vcfg.predict, mv.featureSpec);
      const old = ve.serving;
      ve.serving = mv;
      ve.state = 'READY';
      ve.reason = undefined;
      this.opts.log?.({ model: name, version }, 'model version ready');
      if (old) this.retire(old);
    } catch (e) {
      await this.backendFor(config).unload(key);
      const reason = (e as Error).message;
      this.opts.log?.({ model: name, version, reason }, 'model version failed to load');
      if (!ve.serving) {
        ve.state = 'UNAVAILABLE';
        ve.reason = reason;
      }
    }
  }

  /** Versions taken out of routing that still finish their leased and queued requests. */
  private readonly retiring = new Set<Promise<void>>();

  /**
   * Retires a version in the background: a load returns as soon as the new versions serve,
   * while the old one finishes what it accepted (streams included, up to its grace period).
   */
  private retire(mv: ModelVersion): void {
    const p: Promise<void> = mv
      .close()
      .catch((e: unknown) => this.opts.log?.({ model: mv.name, version: mv.version, err: (e as Error).message }, 'retiring a model version failed'))
      .finally(() => this.retiring.delete(p));
    this.retiring.add(p);
  }

  private native?: Backend;

  private backendFor(config: ModelConfig): Backend {
    if (config.backend !== 'native') return this.opts.backend;
    if (!this.opts.nativeBackend) throw new Error(`backend 'native' is not available in this server`);
    this.native ??= this.opts.nativeBackend();
    return this.native;
  }

  /** Reads a version's feature spec (`file`, resolved inside its folder) and checks it fills the /predict input exactly. */
  private loadSpec(config: ModelConfig, name: string, version: number, file: string): FeatureSpec {
    const spec = loadFeatureSpec(file);
    const input = config.inputs.find((t) => t.name === config.predict?.input);
    const width = input?.shape[input.shape.length - 1];
    if (!input || (width !== undefined && width >= 0 && width !== spec.width)) {
      throw new Error(`${name}/${version}/${config.feature_spec}: width ${spec.width} does not fill predict.input '${config.predict?.input}' of shape [${input?.shape ?? ''}]`);
    }
    return spec;
  }

  async unload(name: string): Promise<void> {
    checkModelName(name);
    const entry = this.models.get(name);
    if (!entry) throw new InferaError('ENG_ERR_MODEL_NOT_FOUND', `model '${name}' is not loaded`);
    entry.state = 'UNLOADING';
    this.models.delete(name);
    await Promise.all([...entry.versions.values()].map((v) => v.serving?.close()));
  }

  list(): ModelEntry[] {
    return [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): ModelEntry | undefined {
    return this.models.get(name);
  }

  /**
   * Routes a request: the version that serves it, holding a lease (see ModelVersion.lease)
   * that the caller releases once the request has its answer.
   * @throws InferaError as resolve().
   */
  lease(name: string, version?: number | string, routingKey?: string): { mv: ModelVersion; release: () => void; shadow: ModelVersion | null } {
    const { mv, shadow } = this.route(name, version, routingKey);
    return { mv, release: mv.lease(), shadow };
  }

  /**
   * The version that serves a request, and the candidate to mirror it to (shadow mode): a
   * number or an alias when the request names one; else the model's deployment (canary,
   * A/B by `routingKey`, shadow); else its `production` alias; else the highest ready version.
   * A candidate that is not serving (failed to load) sends its share to stable.
   * @throws InferaError as resolve().
   */
  route(name: string, version?: number | string, routingKey?: string): { mv: ModelVersion; shadow: ModelVersion | null } {
    const routing = this.routing.get(name);
    if (version !== undefined || !routing) return { mv: this.resolve(name, version), shadow: null };
    const d = routing.deployment;
    if (!d) return { mv: this.resolve(name, routing.aliases.production), shadow: null };
    const r = routeRequest(d, routingKey, Math.random());
    const serving = (v: number) => this.models.get(name)?.versions.get(v)?.serving ?? null;
    // A version not serving yet (or failed) sends its share to stable, then to what serves.
    const mv = serving(r.version) ?? serving(d.stable) ?? this.resolve(name);
    return { mv, shadow: r.shadow === null ? null : serving(r.shadow) };
  }

  /**
   * The version that serves a request: the one asked for (a number or an alias), or the
   * highest ready one.
   * @throws InferaError 404 for unknown models/versions/aliases, 503 when not ready.
   */
  resolve(name: string, version?: number | string): ModelVersion {
    const entry = this.models.get(name);
    if (!entry) throw this.notServed(name);
    if (typeof version === 'string') {
      const aliases = this.routing.get(name)?.aliases ?? {};
      const v = aliases[version];
      if (v === undefined) throw new InferaError('ENG_ERR_VERSION_NOT_FOUND', `model '${name}' has no alias '${version}'; aliases: ${Object.keys(aliases).join(', ') || 'none'}`);
      version = v;
    }
    if (version !== undefined) {
      const ve = entry.versions.get(version);
      if (!ve) throw new InferaError('ENG_ERR_VERSION_NOT_FOUND', `model '${name}' has no version ${version}`);
      if (!ve.serving) throw new InferaError('ENG_ERR_MODEL_UNAVAILABLE', `model '${name}' version ${version} is ${ve.state}: ${ve.reason ?? ''}`, { retryAfterS: 5 });
      if (ve.serving.quarantined) throw new InferaError('ENG_ERR_MODEL_UNAVAILABLE', `model '${name}' version ${version} is ${ve.serving.quarantined}`);
      return ve.serving;
    }
    const ready = [...entry.versions.values()].filter((v) => v.serving && !v.serving.quarantined).sort((a, b) => b.version - a.version);
    const quarantined = [...entry.versions.values()].find((v) => v.serving?.quarantined);
    if (ready.length === 0 && quarantined) throw new InferaError('ENG_ERR_MODEL_UNAVAILABLE', `model '${name}' version ${quarantined.version} is ${quarantined.serving!.quarantined}`);
    if (ready.length === 0) throw new InferaError('ENG_ERR_MODEL_UNAVAILABLE', `model '${name}' is ${entry.state}: ${entry.reason ?? ''}`, { retryAfterS: 5 });
    return ready[0].serving!;
  }

  /**
   * Loads what the registry now references and is not loaded (a version a deployment or an
   * alias named, from this process or another). Cheap when nothing changed.
   */
  async syncRegistry(): Promise<void> {
    const registry = this.opts.registry;
    if (!registry || !registry.changed()) return;
    for (const name of [...this.models.keys()]) await this.load(name, { onlyMissing: true });
  }

  /**
   * The error for a name that is not served: 503 when the repository holds the model on disk
   * (unloaded, or not loaded yet: it can be served again), 404 otherwise, listing the served
   * models and the nearest name.
   */
  notServed(name: string): InferaError {
    checkModelName(name);
    if (fs.existsSync(path.join(this.opts.root, name, 'model.json'))) {
      return new InferaError('ENG_ERR_MODEL_UNAVAILABLE', `model '${name}' is in the repository but not loaded (POST /v2/repository/models/${name}/load serves it)`, { retryAfterS: 5 });
    }
    const names = this.list().map((m) => m.name);
    const near = nearestName(name, names);
    return new InferaError('ENG_ERR_MODEL_NOT_FOUND', `'${name}'${near ? ` (did you mean '${near}'?)` : ''}; served: ${names.map((n) => `'${n}'`).join(', ') || 'none'}`);
  }

  async drain(): Promise<void> {
    await Promise.all(this.list().flatMap((m) => [...m.versions.values()].map((v) => v.serving?.drain())));
  }

  async close(): Promise<void> {
    for (const name of [...this.models.keys()]) await this.unload(name);
    await Promise.all([...this.retiring]);
    await this.native?.close();
  }
}

/** The candidate within edit distance 2 of `name` (case-insensitive), if one is nearest. */
export function nearestName(name: string, candidates: string[]): string | undefined {
  const a = name.toLowerCase();
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const b = c.toLowerCase();
    // Levenshtein distance, one row at a time.
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row;
    }
    if (prev[b.length] < bestD) [best, bestD] = [c, prev[b.length]];
  }
  return best;
}
