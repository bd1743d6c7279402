/**
 * Online features over HTTP (definitions: src/features/online.ts; store: online-store.ts):
 *   POST /v2/features/{source}/events  {"events": [{...}, ...]}  events of a source, all or none
 *   GET  /v2/features                  the sources the loaded models read, events held, entities
 * and the join into /predict: `withOnlineFeatures` adds a version's aggregates to the
 * client's rows, as of each row's own timestamp.
 */
import { InferaError } from '../errors';
import type { ModelMetrics } from '../monitoring/metrics';
import type { OnlineFeatureStore } from '../features/online-store';
import type { OnlineEventLog } from '../features/local-events';
import type { ModelRepository } from '../repository/model-repository';
import type { ModelVersion } from '../serving/model-version';
import { Router } from './router';

/** Events per POST: large enough for a replayed hour of a busy source, bounded for memory. */
export const MAX_EVENTS_PER_REQUEST = 100_000;

export interface FeatureRoutesContext {
  router: Router;
  repository: ModelRepository;
  store: OnlineFeatureStore;
  /**
   * Where events are kept before this server applies them: PostgreSQL for every replica
   * (--database-url) or the embedded registry file; none: memory only.
   */
  log?: OnlineEventLog;
  metrics?: ModelMetrics;
  maxBodyBytes: number;
}

/** Makes the store follow every loaded version that declares online features. @returns whether a source is new to it. */
export function registerLoaded(repository: ModelRepository, store: OnlineFeatureStore): boolean {
  let added = false;
  for (const m of repository.list()) {
    for (const v of m.versions.values()) {
      const online = v.serving?.featureSpec?.online;
      if (online && store.register(online)) added = true;
    }
  }
  return added;
}

export function registerFeatureRoutes(ctx: FeatureRoutesContext): void {
  const { router, repository, store } = ctx;

  router.add('post', '/v2/features/:source/events', async (ex) => {
    const source = ex.params[0];
    const body = await ex.jsonBody(ctx.maxBodyBytes);
    const events = body.events;
    if (!Array.isArray(events) || events.length === 0) throw new InferaError('ENG_ERR_BAD_REQUEST', "send {\"events\": [{...}, ...]}: a non-empty array of the source's events");
    if (events.length > MAX_EVENTS_PER_REQUEST) throw new InferaError('ENG_ERR_BAD_REQUEST', `'events' holds ${events.length} events; at most ${MAX_EVENTS_PER_REQUEST} per request`);
    // A source new to this server first gets the history its event log holds.
    if (registerLoaded(repository, store)) await ctx.log?.sync();
    if (!store.has(source)) throw new InferaError('ENG_ERR_SOURCE_NOT_FOUND', `no loaded model reads online source '${source}' (declared in its pipeline's online_features)`);
    let parsed;
    try {
      parsed = store.validate(source, events);
    } catch (e) {
      throw new InferaError('ENG_ERR_BAD_REQUEST', `${(e as Error).message}; no event of this request was stored`);
    }
    if (ctx.log) {
      try {
        await ctx.log.write(source, parsed);
      } catch (e) {
        throw new InferaError('ENG_ERR_DATABASE_UNAVAILABLE', `the event log did not store the events (${(e as Error).message}); no event of this request was stored, send them again`, { retryAfterS: 1 });
      }
    }
    const r = store.apply(source, parsed);
    ctx.metrics?.onlineEvents.inc({ source, outcome: 'accepted' }, r.accepted);
    if (r.too_old) ctx.metrics?.onlineEvents.inc({ source, outcome: 'too_old' }, r.too_old);
    ex.json(200, { source, accepted: r.accepted, too_old: r.too_old });
  }, { dataPlane: true });

  router.add('get', '/v2/features', async (ex) => {
    if (registerLoaded(repository, store)) await ctx.log?.sync();
    ex.json(200, { sources: store.status() });
  });
}

/**
 * The client's rows with the version's online features added (the rows themselves when the
 * version has none). Defaults are counted per feature and reason.
 * @throws InferaError 400 when a row sends a value the server computes.
 */
export function withOnlineFeatures(store: OnlineFeatureStore, mv: ModelVersion, rows: Record<string, unknown>[], metrics?: ModelMetrics): Record<string, unknown>[] {
  const online = mv.featureSpec?.online;
  if (!online) return rows;
  return rows.map((row, r) => {
    for (const f of online.features) {
      if (row[f.name] !== undefined) throw new InferaError('ENG_ERR_BAD_REQUEST', `field '${f.name}'${rows.length > 1 ? ` (row ${r})` : ''}: computed by the server from the '${online.source}' events; do not send it`);
    }
    const v = store.values(online, row);
    const out: Record<string, unknown> = { ...row };
    online.features.forEach((f, k) => {
      out[f.name] = v.values[k];
      const reason = v.reasons[k];
      if (reason) metrics?.onlineDefaults.inc({ model: mv.name, version: String(mv.version), feature: f.name, reason });
    });
    return out;
  });
}
