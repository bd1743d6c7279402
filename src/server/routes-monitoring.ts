import { Registry } from 'prom-client';
import type { Logger } from '../config/logger';
import { InferaError } from '../errors';
import { MonitoringConfig, resolveConfig } from '../monitoring/config';
import type { SharedPredictionLog } from '../monitoring/shared-log';
import { StatusOptions, toJson } from '../monitoring/status';
import { HubThread } from '../monitoring/thread/hub-thread';
import { ModelRepository } from '../repository/model-repository';
import { checkModelName, parseVersion } from '../repository/paths';
import { HttpExchange } from './http-exchange';
import { Router } from './router';

export interface MonitoringContext {
  router: Router;
  repository: ModelRepository;
  /** The repository's root folder (baselines: <model>/<version>/card.json). */
  repositoryRoot: string;
  registry?: Registry;
  log?: Logger;
  maxBodyBytes: number;
  /** Defaults to the built-in settings (the CLI reads the config file and INFERA_MONITORING_CONFIG). */
  config?: MonitoringConfig;
  /** The log shared by the replicas (PostgreSQL), when configured. */
  shared?: SharedPredictionLog;
}

/** Feedback items per request at most. */
const MAX_FEEDBACK_ITEMS = 100_000;

function parseQuery(query: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(query)) m.set(k, v);
  return m;
}

/**
 * Registers the monitoring routes and returns the hub the serving paths feed:
 *   GET  /v2/models/{m}/monitoring[?version=&window=&limit=]   JSON state
 *   GET  /v2/models/{m}/monitoring/report[?version=&window=]  HTML report (inline SVG)
 *   POST /v2/models/{m}/feedback   {id, label} or {items: [{id, label}, ...]}
 *   GET  /v2/models/{m}/quality[?version=&start_ms=&end_ms=]   live quality over labelled predictions
 *        (every replica's when a database is shared, so each replica answers the same)
 */
export function registerMonitoringRoutes(ctx: MonitoringContext): HubThread {
  const config = ctx.config ?? resolveConfig();
  const hub = new HubThread({ repository: ctx.repositoryRoot, config, registry: ctx.registry, log: ctx.log, shared: ctx.shared });
  const { router, repository } = ctx;

  const modelOf = (ex: HttpExchange) => {
    const name = checkModelName(ex.params[0]);
    const entry = repository.get(name);
    if (!entry) throw repository.notServed(name);
    return entry;
  };

  /** The model, the versions asked for and the status options, checked here before the thread is asked. */
  const statusQuery = (ex: HttpExchange, o: StatusOptions): { model: string; versions: number[]; options: StatusOptions } => {
    const entry = modelOf(ex);
    const q = parseQuery(ex.query);
    const version = q.has('version') ? parseVersion(q.get('version')!) : undefined;
    if (version !== undefined && !entry.versions.has(version)) throw new InferaError('ENG_ERR_VERSION_NOT_FOUND', `model '${entry.name}' has no version ${version}`);
    const window = q.get('window');
    if (window !== undefined && !hub.config.windows.some((w) => w.name === window)) {
      throw new InferaError('ENG_ERR_BAD_REQUEST', `unknown window '${window}'; configured: ${hub.config.windows.map((w) => `'${w.name}'`).join(', ')}`);
    }
    let limit = o.limit;
    if (q.has('limit')) {
      limit = Number(q.get('limit'));
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new InferaError('ENG_ERR_BAD_REQUEST', "'limit' must be an integer in [1, 1000]");
    }
    const versions = [...entry.versions.keys()].filter((v) => version === undefined || v === version).sort((a, b) => a - b);
    return { model: entry.name, versions, options: { ...o, window, limit } };
  };

  router.add('get', '/v2/models/:model/monitoring', async (ex) => {
    const { model, versions, options } = statusQuery(ex, { limit: 30 });
    const st = await hub.status(model, versions, options);
    ex.send(200, toJson(st), { 'Content-Type': 'application/json' });
  });

  router.add('get', '/v2/models/:model/monitoring/report', async (ex) => {
    const { model, versions, options } = statusQuery(ex, { limit: 60, sketches: true });
    ex.send(200, await hub.report(model, versions, options), { 'Content-Type': 'text/html; charset=utf-8' });
  });

  router.add('post', '/v2/models/:model/feedback', async (ex) => {
    const entry = modelOf(ex);
    const body = await ex.jsonBody(ctx.maxBodyBytes);
    let items: { id: unknown; label: unknown }[];
    if (body.items !== undefined) {
      if (!Array.isArray(body.items) || body.items.length === 0) throw new InferaError('ENG_ERR_BAD_REQUEST', "'items' must be a non-empty array of {id, label}");
      if (body.items.length > MAX_FEEDBACK_ITEMS) throw new InferaError('ENG_ERR_BAD_REQUEST', `'items' holds ${body.items.length} labels; at most ${MAX_FEEDBACK_ITEMS} per request`);
      items = body.items as { id: unknown; label: unknown }[];
    } else if (body.id !== undefined || body.label !== undefined) {
      items = [{ id: body.id, label: body.label }];
    } else {
      throw new InferaError('ENG_ERR_BAD_REQUEST', "send {id, label} or {items: [{id, label}, ...]}");
    }
    const r = await hub.feedback(entry.name, [...entry.versions.keys()], items);
    ex.json(200, { matched: r.matched, unknown: r.unknown.length, unknown_ids: r.unknown.slice(0, 20), ...(r.shared ? { shared: r.shared } : {}) });
  });

  router.add('get', '/v2/models/:model/quality', async (ex) => {
    const entry = modelOf(ex);
    const q = parseQuery(ex.query);
    const versions = [...entry.versions.keys()];
    const version = q.has('version') ? parseVersion(q.get('version')!) : Math.max(...versions);
    if (!entry.versions.has(version)) throw new InferaError('ENG_ERR_VERSION_NOT_FOUND', `model '${entry.name}' has no version ${version}`);
    const bound = (name: string, dflt: number) => {
      if (!q.has(name)) return dflt;
      const v = Number(q.get(name));
      if (!Number.isSafeInteger(v) || v < 0) throw new InferaError('ENG_ERR_BAD_REQUEST', `'${name}' must be epoch milliseconds (a non-negative integer)`);
      return v;
    };
    const start = bound('start_ms', 0);
    const end = bound('end_ms', Number.MAX_SAFE_INTEGER);
    let rows: { labels: Float64Array; outputs: Float64Array; replicas: number } | null = null;
    if (ctx.shared) {
      // Everything this replica observed reaches the shared log first.
      await hub.flush();
      try {
        rows = await ctx.shared.labelled(entry.name, version, start, end);
      } catch (e) {
        throw new InferaError('ENG_ERR_DATABASE_UNAVAILABLE', `the shared database is unreachable: ${(e as Error).message}`);
      }
    }
    const perf = await hub.quality(entry.name, version, start, end, rows);
    ex.json(200, { model: entry.name, version, source: ctx.shared ? 'shared' : 'local', start_ms: start, end_ms: end, ...(rows ? { replicas: rows.replicas } : {}), ...perf });
  });

  return hub;
}
