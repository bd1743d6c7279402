import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { App, TemplatedApp, us_listen_socket, us_listen_socket_close, us_socket_local_port } from 'uWebSockets.js';
import { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { createMetrics, ModelMetrics } from '../monitoring/metrics';
import { ModelRepository } from '../repository/model-repository';
import { DEFAULT_SANDBOX, SandboxOptions } from '../repository/sandbox';
import { Backend } from '../runtime/backend';
import { OnnxBackend } from '../runtime/onnx-backend';
import { NativeBackend } from '../runtime/native-backend';
import { RouteEntry, Router } from './router';
import { jsonSyncThreshold } from '../native/binding';
import { registerOipRoutes } from './routes-oip';
import { OipService, VersionStats } from './oip-service';
import type * as GrpcServerModule from './grpc-server';
import type { GrpcServer } from './grpc-server';
import { registerConvenienceRoutes } from './routes-convenience';
import { BackgroundRunner } from '../runtime/background-runner';
import { PredictionCache, cacheUrlProblem, createPredictionCache } from './prediction-cache';
import { StreamRoutes, registerStreamRoutes } from './routes-stream';
import { registerMonitoringRoutes } from './routes-monitoring';
import { registerOpenApiRoute } from './openapi';
import { AccessPolicy } from './access';
import { ModelRegistry } from '../registry/registry';
import type * as SharedRegistryModule from '../registry/shared-registry';
import type { SharedRegistry } from '../registry/shared-registry';
import { RolloutConfig, RolloutController } from '../rollout/rollout-controller';
import { RetrainRule, RetrainTrigger } from '../rollout/retrain-trigger';
import { registerRegistryRoutes } from './routes-registry';
import { registerScoreRoutes } from './routes-score';
import { registerFeatureRoutes, registerLoaded } from './routes-features';
import { OnlineFeatureStore } from '../features/online-store';
import type * as SharedEventsModule from '../features/shared-events';
import { LocalOnlineEvents, type OnlineEventLog } from '../features/local-events';
import { ScoreJobs } from '../scoring/score-jobs';
import type { HubThread } from '../monitoring/thread/hub-thread';
import type { MonitoringConfig } from '../monitoring/config';
import type * as SharedLogModule from '../monitoring/shared-log';
import { Logger, createLogger } from '../config/logger';
import { InferaError } from '../errors';
import type { ProcessPeers, RepositoryOp, StatsQuery } from './process-peers';

/**
 * Optional serving features load their libraries only when configured: gRPC (@grpc/grpc-js,
 * protobufjs) with a gRPC port, PostgreSQL (pg) with a database URL. A server without them
 * does not carry them (issue 12: `infera serve` loads what serving needs).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const grpcModule = () => require('./grpc-server') as typeof GrpcServerModule;
const postgresModules = () => ({
  log: require('../monitoring/shared-log') as typeof SharedLogModule,
  registry: require('../registry/shared-registry') as typeof SharedRegistryModule,
  events: require('../features/shared-events') as typeof SharedEventsModule,
});
/* eslint-enable @typescript-eslint/no-require-imports */

export interface ServerOptions {
  repository: string;
  host: string;
  port: number;
  /** The gRPC port (inference.GRPCInferenceService); undefined: no gRPC; 0 picks a free one. */
  grpcPort?: number;
  /** Inference worker threads. */
  workers: number;
  /** CPUs the server may use: decides what runs inline on the event loop (default: os.availableParallelism()). */
  cores?: number;
  maxBodyBytes: number;
  adminToken?: string;
  /** Entries of the in-process /predict result cache (0 disables it); unused with cacheUrl. */
  predictCacheSize: number;
  /** A shared /predict result cache (redis:// or rediss:// URL) instead of the in-process one. */
  cacheUrl?: string;
  /** Seconds an answer lives in the shared cache (default DEFAULT_CACHE_TTL_S). */
  cacheTtlS?: number;
  /** The model POST /predict serves when a request names none (default: the only model with a `predict` section). */
  defaultPredictModel?: string;
  /** Longest wait for in-flight requests on shutdown. */
  drainTimeoutMs: number;
  /**
   * Share the port with other processes (SO_REUSEPORT, which uWS always sets). Off by default:
   * a second server on a port in use then fails to start instead of silently taking half of
   * its connections.
   */
  reusePort?: boolean;
  /**
   * Open each new model version in a disposable child process with a time and memory cap
   * before the serving workers do (repository/sandbox.ts); false turns it off.
   */
  sandbox?: SandboxOptions | false;
  /** Seconds a version the registry stopped naming stays loaded (fast rollback); 0: retire at once. */
  keepWarmS?: number;
  /** The directory batch scoring jobs over HTTP read and write in; none: the routes answer 403. */
  scoreDir?: string;
  /** model.json `batching` fields for models that leave them out. */
  batchingDefaults?: Record<string, unknown>;
  /** Retraining on drift, per model (src/rollout/retrain-trigger.ts); needs a registry file (registryPath). */
  retrain?: Record<string, RetrainRule>;
  /** Automatic promotion and rollback of canaries (src/rollout); defaults in DEFAULT_ROLLOUT. */
  rollout?: Partial<RolloutConfig>;
  /** The model registry's SQLite file (aliases, deployments, audit); default ':memory:' (the CLI uses <repository>/.infera/registry.sqlite). */
  registryPath?: string;
  /** Monitoring settings (default: the built-in ones, src/monitoring/config.ts). */
  monitoring?: MonitoringConfig;
  /**
   * PostgreSQL shared by the replicas (postgres://…): the prediction log and the feedback join
   * (src/monitoring/shared-log.ts). None: each replica's embedded log only.
   */
  databaseUrl?: string;
  /** When non-empty, the inference routes require one of these keys (Bearer or X-API-Key). */
  apiKeys?: string[];
  /** Origins allowed to call the API from a browser (CORS); '*' for any. */
  corsOrigins?: string[];
  registry?: Registry;
  backend?: Backend;
  logger?: Logger;
  /**
   * The other serving processes of the same server (`--processes N`, src/cli/process-supervisor.ts):
   * /metrics answers for all of them, repository changes reach all of them, and without a
   * shared database only the first runs automatic promotion, rollback and retraining.
   */
  peers?: ProcessPeers;
}

export const SERVER_VERSION = '0.1.0';

/** How often the server looks for registry changes made by another process (the CLI). */
export const REGISTRY_POLL_MS = 500;

export const DEFAULT_SERVER_OPTIONS: Omit<ServerOptions, 'repository'> = {
  host: '0.0.0.0',
  port: 8080,
  // One inference worker per CPU this process may run on (affinity and cpusets respected):
  // each runs onnxruntime with one intra-op thread. More workers than cores only preempt the
  // event loop and let every lone request go out as a batch of one (measured: pinned to one
  // core, 2 workers served /predict 20% slower than 1, with higher latency at every rate).
  workers: Math.max(1, os.availableParallelism()),
  maxBodyBytes: 64 * 1024 * 1024,
  predictCacheSize: 1024,
  drainTimeoutMs: 30000,
};

/**
 * The model server: a uWS app in front of the model repository. Lifecycle:
 * start() loads the repository then listens; stop() drains (readiness false,
 * new data-plane requests refused, in-flight finish), then closes.
 */
export class InferaServer {
  readonly registry: Registry;
  readonly metrics: ModelMetrics;
  readonly repository: ModelRepository;
  /** Versions, aliases, deployments and their audit log (src/registry). */
  readonly modelRegistry: ModelRegistry;
  /** Its replication through the shared database (--database-url), or null. */
  readonly sharedRegistry: SharedRegistry | null;
  /** Online feature values /predict joins (src/features/online-store.ts). */
  readonly online: OnlineFeatureStore;
  /**
   * Where their events are kept: PostgreSQL shared by the replicas (--database-url), else the
   * registry's SQLite file; undefined with neither (memory only).
   */
  readonly eventLog: OnlineEventLog | undefined;
  private registryTimer: NodeJS.Timeout | null = null;
  /** Ends canaries on evidence (guardrails, mSPRT on labels). */
  readonly rollout: RolloutController;
  /** Retraining on drift, when configured. */
  readonly retrain: RetrainTrigger | null = null;
  private rolloutTimer: NodeJS.Timeout | null = null;
  readonly log: Logger;
  private readonly backend: Backend;
  private readonly app: TemplatedApp;
  private readonly router: Router;
  private readonly streams: StreamRoutes;
  /** The OIP operations both transports (REST, gRPC) call. */
  private readonly oip: OipService;
  /** Model monitoring: observe() from the serving paths, feedback, drift (routes-monitoring.ts). */
  readonly monitoring: HubThread;
  private listenSocket: us_listen_socket | null = null;
  /** The gRPC transport, when a gRPC port is configured. */
  readonly grpc: GrpcServer | null = null;
  /** The bound gRPC port (0 without gRPC). */
  grpcPort = 0;
  private readonly cores: number;
  private loaded = false;
  /** Batch scoring jobs (child processes running `infera score`). */
  readonly scoreJobs: ScoreJobs;
  /** The /predict result cache (src/server/prediction-cache.ts). */
  readonly cache: PredictionCache;
  /** Shadow runs, off the event loop at idle CPU priority (started on first use). */
  private readonly background = new BackgroundRunner({
    onStart: (p) => {
      this.metrics.shadowIdlePriority.set({ thread: 'background' }, p.ok ? 1 : 0);
      if (!p.ok) this.log.warn({ reason: p.reason }, 'shadow runs share the CPU with serving at normal priority');
    },
  });
  port = 0;

  constructor(private readonly opts: ServerOptions) {
    if (!fs.existsSync(opts.repository)) throw new Error(`model repository '${opts.repository}' does not exist`);
    this.log = opts.logger ?? createLogger('info');
    this.registry = opts.registry ?? new Registry();
    this.metrics = createMetrics(this.registry, { defaultMetrics: !opts.registry });
    this.metrics.servingProcesses.set(1);
    this.cores = opts.cores ?? os.availableParallelism();
    const cacheProblem = opts.cacheUrl === undefined ? null : cacheUrlProblem(opts.cacheUrl);
    if (cacheProblem) throw new Error(`cache URL ${cacheProblem}`);
    if (opts.cacheTtlS !== undefined && !(Number.isInteger(opts.cacheTtlS) && opts.cacheTtlS >= 1)) throw new Error(`cache TTL must be a whole number of seconds ≥ 1, got ${opts.cacheTtlS}`);
    this.backend = opts.backend ?? new OnnxBackend({ workers: opts.workers });
    this.modelRegistry = new ModelRegistry(opts.registryPath ?? ':memory:');
    this.repository = new ModelRepository({
      root: opts.repository,
      registry: this.modelRegistry,
      batchingDefaults: opts.batchingDefaults,
      backend: this.backend,
      maxInFlight: opts.workers,
      cores: this.cores,
      sandbox: opts.sandbox === false ? null : (opts.sandbox ?? DEFAULT_SANDBOX),
      keepWarmMs: opts.keepWarmS === undefined ? undefined : opts.keepWarmS * 1000,
      nativeBackend: () => new NativeBackend(),
      metrics: this.metrics,
      log: (o, m) => this.log.info(o, m),
    });
    this.app = App();
    this.router = new Router(this.app, this.metrics, (o, m) => this.log.error(o, m), new AccessPolicy({ apiKeys: opts.apiKeys, corsOrigins: opts.corsOrigins }));
    const ready = () => this.loaded && !this.router.draining;
    // One name per process start: a restarted replica is a new one (its embedded state is new).
    const replica = `${os.hostname()}/${randomUUID().slice(0, 8)}`;
    const pg = opts.databaseUrl ? { url: opts.databaseUrl, ...postgresModules() } : undefined;
    const shared = pg ? new pg.log.SharedPredictionLog({ url: pg.url, replica, registry: this.registry, log: (o, m) => this.log.warn(o, m) }) : undefined;
    this.sharedRegistry = pg ? new pg.registry.SharedRegistry({
      url: pg.url, replica, registry: this.modelRegistry, metrics: this.registry, log: (o, m) => this.log.warn(o, m),
      onApplied: () => (this.loaded ? this.repository.syncRegistry() : Promise.resolve()),
    }) : null;
    const sharedRegistry = this.sharedRegistry;
    this.monitoring = registerMonitoringRoutes({ router: this.router, repository: this.repository, repositoryRoot: opts.repository, config: opts.monitoring, registry: this.registry, log: this.log, maxBodyBytes: opts.maxBodyBytes, shared });
    const online = (this.online = new OnlineFeatureStore());
    const sharedEvents = pg ? new pg.events.SharedOnlineEvents({
      url: pg.url, replica, store: online, log: (o, m) => this.log.warn(o, m),
      onReplicated: (source, n) => this.metrics.onlineEvents.inc({ source, outcome: 'replicated' }, n),
    }) : undefined;
    this.eventLog = sharedEvents ?? (opts.registryPath && opts.registryPath !== ':memory:' ? new LocalOnlineEvents(opts.registryPath, online, (o, m) => this.log.warn(o, m)) : undefined);
    this.oip = new OipService({ repository: this.repository, metrics: this.metrics, monitoring: this.monitoring, background: this.background, propagate: (op) => this.propagate(op),
      gatherStats: opts.peers ? (query) => opts.peers!.stats(query) : undefined });
    this.cache = createPredictionCache({ url: opts.cacheUrl, size: opts.predictCacheSize, ttlS: opts.cacheTtlS, registry: this.registry, warn: (o, m) => this.log.warn(o, m) });
    const cache = this.cache;
    registerOipRoutes({
      service: this.oip, router: this.router, maxBodyBytes: opts.maxBodyBytes, adminToken: opts.adminToken, serverVersion: SERVER_VERSION, ready, syncParseBelowBytes: jsonSyncThreshold(this.cores),
      process: opts.peers?.place,
      dependencies: () => ({
        ...(shared ? { database: shared.health() } : {}),
        ...(sharedRegistry ? { registry: sharedRegistry.health() } : {}),
        ...(cache.backend === 'redis' ? { cache: cache.health() } : {}),
        ...(sharedEvents ? { online_events: sharedEvents.health() } : {}),
      }),
    });
    registerFeatureRoutes({ router: this.router, repository: this.repository, store: online, log: this.eventLog, metrics: this.metrics, maxBodyBytes: opts.maxBodyBytes });
    registerConvenienceRoutes({
      repository: this.repository, router: this.router, registry: this.registry, localMetrics: () => this.localMetrics(), metrics: this.metrics, monitoring: this.monitoring, maxBodyBytes: opts.maxBodyBytes,
      adminToken: opts.adminToken, cache: this.cache, defaultPredictModel: opts.defaultPredictModel, online, ready, reload: () => this.reload(), background: this.background,
      peers: opts.peers,
    });
    this.rollout = new RolloutController({
      registry: this.modelRegistry, log: this.monitoring, alerts: this.monitoring.alerts, config: opts.rollout,
      onChange: (model) => this.repository.load(model, { onlyMissing: true }),
      thresholdOf: (model) => this.repository.get(model)?.config?.predict?.threshold,
    });
    this.monitoring.onObserved = (model, version, predictions, latencyMs) => this.rollout.observe(model, version, predictions, latencyMs);
    if (opts.retrain && Object.keys(opts.retrain).length > 0) {
      if (!opts.registryPath || opts.registryPath === ':memory:') throw new Error('retraining on drift needs a registry file (registryPath / --registry): the training run is another process');
      this.retrain = new RetrainTrigger({
        repository: opts.repository, registryPath: opts.registryPath, registry: this.modelRegistry, rules: opts.retrain,
        onDeployed: (model) => this.repository.load(model, { onlyMissing: true }), log: (o, m) => this.log.warn(o, m),
      });
      // One retraining run per alert: in a process group without a shared database, the first process's.
      if (!opts.peers || opts.peers.first || opts.databaseUrl) this.monitoring.alerts.addSink(this.retrain);
    }
    registerRegistryRoutes({ router: this.router, repository: this.repository, registry: this.modelRegistry, rollout: this.rollout, adminToken: opts.adminToken });
    this.scoreJobs = new ScoreJobs({
      cli: path.join(__dirname, '../cli/main.js'), repository: opts.repository, dir: opts.scoreDir ?? null,
      registry: opts.registryPath && opts.registryPath !== ':memory:' ? opts.registryPath : undefined,
    });
    registerScoreRoutes({ router: this.router, jobs: this.scoreJobs, adminToken: opts.adminToken });
    registerOpenApiRoute(this.router, SERVER_VERSION);
    this.streams = registerStreamRoutes({ app: this.app, repository: this.repository, metrics: this.metrics, access: this.router.access, draining: () => this.router.draining, log: (o, m) => this.log.warn(o, m) });
    this.router.fallback();
    if (opts.grpcPort !== undefined) {
      this.grpc = new (grpcModule().GrpcServer)({
        service: this.oip, access: this.router.access, adminToken: opts.adminToken, serverVersion: SERVER_VERSION, maxMessageBytes: opts.maxBodyBytes,
        ready, draining: () => this.router.draining, track: (fn) => this.router.track(fn), metrics: this.metrics, log: (o, m) => this.log.error(o, m),
      });
    }
  }

  async start(): Promise<number> {
    try {
      return await this.listenAndLoad();
    } catch (e) {
      // A server that cannot start must not leave its workers behind.
      if (this.listenSocket) us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
      await this.grpc?.close(0);
      await this.cache.close();
      await this.monitoring.close();
      await this.repository.close();
      await this.background.close();
      await this.backend.close();
      await this.sharedRegistry?.close();
      this.modelRegistry.close();
      throw e;
    }
  }

  private async listenAndLoad(): Promise<number> {
    if (!Number.isInteger(this.opts.port) || this.opts.port < 0 || this.opts.port > 65535) throw new Error(`port ${this.opts.port} is not a TCP port (0–65535)`);
    if (this.opts.port !== 0 && !this.opts.reusePort) await assertPortFree(this.opts.host, this.opts.port);
    await new Promise<void>((resolve, reject) => {
      this.app.listen(this.opts.host, this.opts.port, (sock) => {
        if (!sock) return reject(new Error(`cannot listen on ${this.opts.host}:${this.opts.port}`));
        this.listenSocket = sock;
        this.port = us_socket_local_port(sock);
        resolve();
      });
    });
    if (this.grpc) this.grpcPort = await this.grpc.listen(this.opts.host, this.opts.grpcPort!);
    // In the background: a shared cache that is away delays nothing (/health says so).
    this.cache.connect();
    // The shared registry first (one round, bounded by its timeouts): a new replica serves
    // the aliases and deployments the others serve, not only what its own disk holds.
    await this.sharedRegistry?.start();
    // Liveness answers while models load; readiness waits for them.
    await this.repository.loadAll();
    // Replicas: the online feature history the others hold, before this one is ready.
    registerLoaded(this.repository, this.online);
    await this.eventLog?.sync();
    if (this.opts.peers) {
      this.opts.peers.serve({
        collect: async (c) => (c.what === 'metrics' ? this.localMetrics() : this.localStats(c.query)),
        apply: (op) => this.applyLocally(op),
      });
      for (const op of await this.opts.peers.join()) await this.applyLocally(op);
    }
    this.loaded = true;
    // Deployments and aliases changed by the CLI (another process) take effect within ~0.5 s.
    this.registryTimer = setInterval(() => {
      this.repository.syncRegistry().catch((e: Error) => this.log.error({ err: e.message }, 'registry sync failed'));
    }, REGISTRY_POLL_MS);
    this.registryTimer.unref();
    this.rolloutTimer = setInterval(() => {
      // With a shared registry one replica decides promotions and rollbacks: the lock holder.
      void (async () => {
        if (this.sharedRegistry ? !(await this.sharedRegistry.leader()) : this.opts.peers && !this.opts.peers.first) return;
        await this.rollout.tick(this.repository.list().map((m) => m.name));
      })().catch((e: Error) => this.log.error({ err: e.message }, 'rollout check failed'));
    }, this.rollout.config.interval_ms);
    this.rolloutTimer.unref();
    this.log.info({ port: this.port, ...(this.grpc ? { grpcPort: this.grpcPort } : {}), ...(this.opts.peers ? { process: { ...this.opts.peers.place, pid: process.pid } } : {}), models: this.repository.list().map((m) => ({ name: m.name, state: m.state, reason: m.reason })) }, 'infera ready');
    return this.port;
  }

  /** Reloads every model on disk and unloads those removed from it, in every serving process. */
  async reload(): Promise<void> {
    await this.applyLocally({ kind: 'reload' });
    await this.propagate({ kind: 'reload' });
  }

  /** This process's metrics as prom-client JSON: the server's registry and the monitoring thread's. */
  private async localMetrics(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return [...(await this.registry.getMetricsAsJSON()), ...(await this.monitoring.metricsJson())];
  }

  /** This process's statistics for a query; none where it does not serve the model or version. */
  private localStats(q: StatsQuery): VersionStats[] {
    try {
      return this.oip.statsHere(q.model, q.version);
    } catch {
      return [];
    }
  }

  /** A repository change, in this process only (the other processes of a group call it through their peers). */
  private async applyLocally(op: RepositoryOp): Promise<void> {
    if (op.kind === 'load') {
      await this.oip.loadHere(op.model);
    } else if (op.kind === 'unload') {
      await this.repository.unload(op.model);
    } else {
      const onDisk = new Set(this.repository.scan());
      for (const m of this.repository.list()) if (!onDisk.has(m.name)) await this.repository.unload(m.name);
      await this.repository.loadAll();
      this.cache.clear();
    }
  }

  /**
   * Has the other serving processes of the group apply a change this one applied.
   * @throws InferaError 503 naming the processes that could not.
   */
  private async propagate(op: RepositoryOp): Promise<void> {
    if (!this.opts.peers) return;
    const errors = await this.opts.peers.broadcast(op);
    if (errors.length > 0) throw new InferaError('ENG_ERR_MODEL_UNAVAILABLE', `applied here but not in every serving process: ${errors.join('; ')}`);
  }

  /** Every HTTP route served: the router's, and the WebSocket streams (GET: the upgrade request). */
  routes(): RouteEntry[] {
    return [...this.router.routes(), ...this.streams.patterns.map((pattern) => ({ method: 'get' as const, pattern }))];
  }

  get inFlight(): number {
    return this.router.inFlight;
  }

  /** Graceful stop: refuse new work, let in-flight requests finish, then close. */
  async stop(): Promise<void> {
    this.router.draining = true;
    this.streams.closeAll(1001, 'server shutting down');
    this.grpc?.closeStreams();
    const deadline = Date.now() + this.opts.drainTimeoutMs;
    while (this.router.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (this.listenSocket) us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    await this.grpc?.close(Math.max(0, deadline - Date.now()));
    if (this.registryTimer) clearInterval(this.registryTimer);
    if (this.rolloutTimer) clearInterval(this.rolloutTimer);
    this.scoreJobs.close();
    await this.cache.close();
    await this.monitoring.close();
    await this.repository.close();
    await this.background.close();
    await this.backend.close();
    await this.sharedRegistry?.close();
    await this.eventLog?.close();
    this.modelRegistry.close();
    this.opts.peers?.close();
    this.log.info({ inFlight: this.router.inFlight }, 'infera stopped');
  }
}

/**
 * uWS listens with SO_REUSEPORT, so a second server on a busy port would start and share it.
 * A plain listen (no SO_REUSEPORT) on the same address fails with EADDRINUSE exactly then.
 * @throws Error "port in use" naming the address.
 */
export function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is in use by another process; stop it, pick another --port, or pass --reuse-port to share it`) : e);
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
