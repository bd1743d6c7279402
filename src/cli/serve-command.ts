/**
 * `infera serve` and `infera config print`: the server's settings from flags, environment
 * variables and the config file (src/config/server-config.ts), resolved in one place.
 * Precedence, lowest first: built-in default < config file < environment < flag.
 */
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { createLogger, LOG_LEVELS } from '../config/logger';
import { loadServerConfigFile, ServerConfigFile } from '../config/server-config';
import { loadConfigFile, MonitoringConfig, resolveConfig } from '../monitoring/config';
import { DEFAULT_SERVER_OPTIONS, InferaServer, ServerOptions, assertPortFree } from '../server/server';
import { ProcessPeers, processPlaceFromEnv } from '../server/process-peers';
import { ProcessSupervisor } from './process-supervisor';
import { DEFAULT_CACHE_TTL_S, cacheUrlProblem, redactUrl } from '../server/prediction-cache';
import { repositoryOption } from './repository-option';
import { defaultRegistryPath } from '../registry/registry';
import { DEFAULT_KEEP_WARM_MS } from '../repository/model-repository';
import { DEFAULT_ROLLOUT } from '../rollout/rollout-controller';
import { relaunchWithServingFlags, servingChild } from './serving-runtime';

export type SettingSource = 'flag' | 'env' | 'file' | 'default';

/** A serve option: its commander key and its place in the config file. */
interface Setting {
  key: string;
  file: [keyof ServerConfigFile, string];
}

const SETTINGS: Setting[] = [
  { key: 'repository', file: ['server', 'repository'] },
  { key: 'host', file: ['server', 'host'] },
  { key: 'port', file: ['server', 'port'] },
  { key: 'grpcPort', file: ['server', 'grpc_port'] },
  { key: 'workers', file: ['server', 'workers'] },
  { key: 'maxBody', file: ['server', 'max_body'] },
  { key: 'predictCache', file: ['server', 'predict_cache'] },
  { key: 'cacheUrl', file: ['server', 'cache_url'] },
  { key: 'cacheTtl', file: ['server', 'cache_ttl_s'] },
  { key: 'defaultModel', file: ['server', 'default_model'] },
  { key: 'logLevel', file: ['server', 'log_level'] },
  { key: 'reusePort', file: ['server', 'reuse_port'] },
  { key: 'processes', file: ['server', 'processes'] },
  { key: 'perProcessState', file: ['server', 'per_process_state'] },
  { key: 'sandbox', file: ['server', 'sandbox'] },
  { key: 'registry', file: ['server', 'registry'] },
  { key: 'keepWarm', file: ['server', 'keep_warm_s'] },
  { key: 'scoreDir', file: ['server', 'score_dir'] },
  { key: 'databaseUrl', file: ['server', 'database_url'] },
  { key: 'adminToken', file: ['auth', 'admin_token'] },
  { key: 'apiKeys', file: ['auth', 'api_keys'] },
  { key: 'corsOrigins', file: ['auth', 'cors_origins'] },
];

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

/** Adds the serve options (shared by `serve` and `config print`). */
export function addServeOptions(cmd: Command): Command {
  const d = DEFAULT_SERVER_OPTIONS;
  return cmd
    .addOption(new Option('-c, --config <file>', 'server config file (JSON; see the README)').env('INFERA_CONFIG'))
    .addOption(repositoryOption())
    .addOption(new Option('--registry <file>', 'model registry (aliases, deployments, audit; default <repository>/.infera/registry.sqlite)').env('INFERA_REGISTRY'))
    .addOption(new Option('--keep-warm <s>', 'seconds a version the registry stopped naming (after a promotion or a rollback) stays loaded, so going back to it is instant; 0 retires it at once').env('INFERA_KEEP_WARM').default(String(DEFAULT_KEEP_WARM_MS / 1000)))
    .addOption(new Option('--score-dir <dir>', 'the directory batch scoring jobs over HTTP (POST /v2/repository/models/{m}/score) read and write in; without it those routes answer 403').env('INFERA_SCORE_DIR'))
    .addOption(new Option('--database-url <url>', 'PostgreSQL shared by the replicas (postgres://user:password@host:port/db): the prediction log and the feedback join; without it each replica keeps its own').env('INFERA_DATABASE_URL'))
    .addOption(new Option('-p, --port <n>', 'HTTP port (0 picks a free one)').env('INFERA_PORT').default(String(d.port)))
    .addOption(new Option('--grpc-port <n>', 'serve the Open Inference Protocol over gRPC too, on this port (0 picks a free one); off without it').env('INFERA_GRPC_PORT'))
    .addOption(new Option('-H, --host <host>', 'address to bind').env('INFERA_HOST').default(d.host))
    .addOption(new Option('--processes <n>', "serving processes on the port, each with its own event loop ('auto': one per CPU this process may use); more than 1 needs --database-url or --per-process-state").env('INFERA_PROCESSES').default('1'))
    .addOption(new Option('--per-process-state', 'with --processes > 1 and no --database-url: each process keeps its own prediction log, feedback join, monitoring windows and online feature events (feedback then joins only the predictions the receiving process served)').env('INFERA_PER_PROCESS_STATE'))
    .addOption(new Option('-w, --workers <n>', 'inference worker threads (per serving process; default: the CPUs divided among the processes)').env('INFERA_WORKERS').default(String(d.workers)))
    .addOption(new Option('--max-body <bytes>', 'largest request body').env('INFERA_MAX_BODY').default(String(d.maxBodyBytes)))
    .addOption(new Option('--admin-token <token>', 'token required by load/unload/reload').env('INFERA_ADMIN_TOKEN'))
    .addOption(new Option('--api-key <keys>', 'comma-separated keys the inference routes require (Bearer or X-API-Key)').env('INFERA_API_KEYS').argParser(list))
    .addOption(new Option('--cors-origin <origins>', "comma-separated origins allowed from browsers (CORS), or '*'").env('INFERA_CORS_ORIGINS').argParser(list))
    .addOption(new Option('--predict-cache <n>', 'entries of the in-process /predict result cache (0 disables; unused with --cache-url)').env('INFERA_PREDICT_CACHE').default(String(d.predictCacheSize)))
    .addOption(new Option('--cache-url <url>', 'share the /predict result cache between replicas in Redis (redis://[:password@]host:port[/db], rediss:// for TLS) instead of each keeping its own').env('INFERA_CACHE_URL'))
    .addOption(new Option('--cache-ttl <s>', 'seconds an answer lives in the shared cache').env('INFERA_CACHE_TTL').default(String(DEFAULT_CACHE_TTL_S)))
    .addOption(new Option('--default-model <name>', 'the model POST /predict serves when a request names none (default: the only model with a predict section)').env('INFERA_DEFAULT_MODEL'))
    .addOption(new Option('--log-level <level>', 'log level').env('INFERA_LOG_LEVEL').default('info').choices(LOG_LEVELS))
    .addOption(new Option('--no-sandbox', 'open new model versions directly in the serving workers, without validating them in a child process first'))
    .addOption(new Option('--reuse-port', 'share the HTTP port with other processes (SO_REUSEPORT); without it a port in use is an error (a gRPC port is shared only by the processes of --processes)').env('INFERA_REUSE_PORT'));
}

/** A postgres:// URL, checked here so a typo fails at start rather than as a degraded log. */
function databaseUrl(cmd: Command, v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return cmd.error(`--database-url must be a postgres:// URL, got '${v}'`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') cmd.error(`--database-url must be a postgres:// URL, got protocol '${u.protocol}'`);
  return v;
}

export interface ServeSettings {
  configFile: string | null;
  /** The server's options, and how many serving processes run it (`--processes`). */
  options: ServerOptions & { logLevel: string; processes: number; perProcessState: boolean; monitoring: MonitoringConfig };
  sources: Record<string, SettingSource>;
  monitoringSource: string;
}

/**
 * The effective settings of a parsed serve command.
 * @throws Error (commander's, via cmd.error) naming a bad value; InferaError ENG_ERR_CONFIG
 *   naming the config file's bad field.
 */
export function resolveServeSettings(cmd: Command): ServeSettings {
  const o = cmd.opts() as Record<string, unknown>;
  const configFile = typeof o.config === 'string' ? path.resolve(o.config) : null;
  const file: ServerConfigFile = configFile ? loadServerConfigFile(configFile) : {};
  const values: Record<string, unknown> = {};
  const sources: Record<string, SettingSource> = {};
  for (const s of SETTINGS) {
    const src = cmd.getOptionValueSource(s.key);
    const fromFile = (file[s.file[0]] as Record<string, unknown> | undefined)?.[s.file[1]];
    if ((src === 'default' || src === undefined) && fromFile !== undefined) {
      values[s.key] = fromFile;
      sources[s.key] = 'file';
    } else {
      values[s.key] = o[s.key];
      sources[s.key] = src === 'cli' ? 'flag' : src === 'env' ? 'env' : 'default';
    }
  }
  const int = (name: string, v: unknown, max = Number.MAX_SAFE_INTEGER) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) cmd.error(`--${name} must be a non-negative integer, got '${v}'`);
    if (n > max) cmd.error(`--${name} must be 0–${max}, got '${v}'`);
    return n;
  };
  const envMonitoring = process.env.INFERA_MONITORING_CONFIG;
  let monitoring: MonitoringConfig;
  let monitoringSource: string;
  if (envMonitoring) [monitoring, monitoringSource] = [loadConfigFile(envMonitoring), `env INFERA_MONITORING_CONFIG (${envMonitoring})`];
  else if (file.monitoring) [monitoring, monitoringSource] = [resolveConfig(file.monitoring, `${configFile}: monitoring`), 'file'];
  else [monitoring, monitoringSource] = [resolveConfig(), 'default'];
  const d = DEFAULT_SERVER_OPTIONS;
  const cpus = os.availableParallelism();
  const processes = values.processes === 'auto' ? cpus : int('processes', values.processes, 1024);
  if (processes < 1) cmd.error(`--processes must be a positive integer or 'auto', got '${values.processes}'`);
  // The CPUs are divided among the processes: the default workers, and what each treats as its cores (inline execution).
  const share = Math.max(1, Math.floor(cpus / processes));
  const options = {
    ...d,
    repository: path.resolve(String(values.repository)),
    host: String(values.host),
    port: int('port', values.port, 65535),
    grpcPort: values.grpcPort === undefined ? undefined : int('grpc-port', values.grpcPort, 65535),
    reusePort: Boolean(values.reusePort),
    sandbox: values.sandbox === false ? (false as const) : undefined,
    workers: sources.workers === 'default' && processes > 1 ? share : Math.max(1, int('workers', values.workers)),
    ...(processes > 1 ? { cores: share } : {}),
    processes,
    perProcessState: Boolean(values.perProcessState),
    maxBodyBytes: int('max-body', values.maxBody),
    adminToken: values.adminToken as string | undefined,
    apiKeys: (values.apiKeys as string[] | undefined) ?? [],
    corsOrigins: (values.corsOrigins as string[] | undefined) ?? [],
    predictCacheSize: int('predict-cache', values.predictCache),
    cacheUrl: values.cacheUrl ? String(values.cacheUrl) : undefined,
    cacheTtlS: int('cache-ttl', values.cacheTtl),
    defaultPredictModel: values.defaultModel as string | undefined,
    batchingDefaults: file.batching,
    rollout: file.rollout,
    retrain: file.retrain,
    keepWarmS: int('keep-warm', values.keepWarm),
    scoreDir: values.scoreDir ? path.resolve(String(values.scoreDir)) : undefined,
    databaseUrl: values.databaseUrl ? databaseUrl(cmd, String(values.databaseUrl)) : undefined,
    registryPath: values.registry ? path.resolve(String(values.registry)) : defaultRegistryPath(path.resolve(String(values.repository))),
    monitoring,
    logLevel: String(values.logLevel),
  };
  if (!LOG_LEVELS.includes(options.logLevel)) cmd.error(`log level '${options.logLevel}' is not one of ${LOG_LEVELS.join(', ')}`);
  const cacheProblem = options.cacheUrl === undefined ? null : cacheUrlProblem(options.cacheUrl);
  if (cacheProblem) cmd.error(`--cache-url ${cacheProblem}`);
  if (options.cacheTtlS < 1) cmd.error(`--cache-ttl must be at least 1 second, got '${values.cacheTtl}'`);
  if (processes > 1) {
    if (options.port === 0 || options.grpcPort === 0) cmd.error(`--processes ${processes} needs fixed ports: with 0 each process would pick its own`);
    if (!options.databaseUrl && !options.perProcessState) {
      cmd.error(`--processes ${processes} needs the processes' shared state in PostgreSQL (--database-url), or --per-process-state to accept that each process keeps its own prediction log, feedback join and monitoring windows`);
    }
    if (options.scoreDir) cmd.error('--score-dir is not supported with --processes > 1 yet (a job would live in one process): run batch scoring with `infera score`, or one process');
  }
  return { configFile, options, sources, monitoringSource };
}

export function registerServeCommand(program: Command): void {
  addServeOptions(program.command('serve').description('serve the models of a repository over the Open Inference Protocol v2')).action(async (_o, cmd: Command) => {
    const place = processPlaceFromEnv();
    const { options } = resolveServeSettings(cmd);
    const logger = createLogger(options.logLevel);
    if (options.processes > 1 && !place) {
      // The serving processes share the port (SO_REUSEPORT): unless asked to share it with
      // others too, it must be free, as for one process.
      if (!options.reusePort) {
        await assertPortFree(options.host, options.port);
        if (options.grpcPort !== undefined) await assertPortFree(options.host, options.grpcPort);
      }
      logger.info({ processes: options.processes, workers: options.workers }, 'starting the serving processes');
      new ProcessSupervisor({ count: options.processes, script: process.argv[1], args: process.argv.slice(2), ...servingChild(), log: (m) => logger.warn(m) }).start();
      return;
    }
    if (!place && relaunchWithServingFlags()) return;
    const peers = place ? new ProcessPeers(place) : undefined;
    // Each serving process keeps its own prediction log: a log file gets the process's index.
    const log = options.monitoring.log;
    const monitoring: MonitoringConfig = place && log.path !== undefined && log.path !== ':memory:' ? { ...options.monitoring, log: { ...log, path: `${log.path}.process-${place.index}` } } : options.monitoring;
    const server = new InferaServer({ ...options, monitoring, reusePort: options.reusePort || peers !== undefined, peers, logger });
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal, inFlight: server.inFlight }, 'draining');
      server.stop().then(() => process.exit(0), (e) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      });
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    // A serving process whose supervisor is gone (killed) stops too rather than serve unsupervised.
    if (peers) process.on('disconnect', () => shutdown('supervisor gone'));
    await server.start();
  });

  const config = program.command('config').description('the server configuration');
  addServeOptions(config.command('print').description('print the effective serve settings (flags, env, config file, defaults) and where each came from'))
    .action((_o, cmd: Command) => {
      const s = resolveServeSettings(cmd);
      const secret = (v: unknown) => (v === undefined || (Array.isArray(v) && v.length === 0) ? v : Array.isArray(v) ? v.map(() => '***') : '***');
      const { monitoring, batchingDefaults, rollout, retrain, adminToken, apiKeys, databaseUrl, cacheUrl, ...rest } = s.options;
      const settings = { ...rest, adminToken: secret(adminToken), apiKeys: secret(apiKeys), databaseUrl: databaseUrl && redactUrl(databaseUrl), cacheUrl: cacheUrl && redactUrl(cacheUrl) };
      process.stdout.write(`${JSON.stringify({ config_file: s.configFile, settings, sources: s.sources, batching_defaults: batchingDefaults ?? {}, rollout: { ...DEFAULT_ROLLOUT, ...rollout }, retrain: retrain ?? {}, monitoring, monitoring_source: s.monitoringSource }, null, 2)}\n`);
    });
}
