/**
 * The registry over HTTP. Reads are open; changes need the admin token (as load/unload).
 *   GET  /v2/models/{m}/registry                 versions, aliases, deployment
 *   GET  /v2/models/{m}/registry/history         the audit log, newest first
 *   POST /v2/repository/models/{m}/aliases       {"alias", "version"} (version null removes it)
 *   POST /v2/repository/models/{m}/deployment    {"stable", "candidate"?, "mode"?, "share"?}
 *   POST /v2/repository/models/{m}/promote       {"reason"?}
 *   POST /v2/repository/models/{m}/rollback      {"reason"?}
 * A change answers once the versions it names serve (the repository loads them first).
 */
import { InferaError } from '../errors';
import type { ModelRepository } from '../repository/model-repository';
import { checkModelName } from '../repository/paths';
import type { DeploymentMode, ModelRegistry } from '../registry/registry';
import type { RolloutController } from '../rollout/rollout-controller';
import { requireAdmin } from './admin-auth';
import type { HttpExchange } from './http-exchange';
import type { Router } from './router';

export interface RegistryContext {
  router: Router;
  repository: ModelRepository;
  registry: ModelRegistry;
  rollout?: RolloutController;
  adminToken?: string;
}

const MAX_BODY = 64 * 1024;

export function registerRegistryRoutes(ctx: RegistryContext): void {
  const { router, repository, registry } = ctx;
  const known = (ex: HttpExchange) => {
    const name = checkModelName(ex.params[0]);
    if (!repository.get(name)) throw repository.notServed(name);
    return name;
  };
  const actor = (ex: HttpExchange) => `http:${ex.remoteAddress}`;
  const reason = (body: Record<string, unknown>) => (typeof body.reason === 'string' ? { reason: body.reason.slice(0, 500) } : {});
  const state = async (name: string) => ({
    model: name, versions: registry.versions(name), aliases: registry.aliases(name), deployment: registry.deployment(name),
    rollout: ctx.rollout ? { evidence: await ctx.rollout.status(name), decisions: ctx.rollout.recent(name) } : undefined,
  });
  const version = (v: unknown, field: string) => {
    if (v === null || v === undefined) return null;
    if (!Number.isInteger(v) || (v as number) < 1) throw new InferaError('ENG_ERR_BAD_REQUEST', `'${field}' must be a version number`);
    return v as number;
  };

  router.add('get', '/v2/models/:model/registry', async (ex) => ex.json(200, await state(known(ex))));
  router.add('get', '/v2/models/:model/registry/history', (ex) => ex.json(200, { model: known(ex), history: registry.history(known(ex)) }));

  router.add('post', '/v2/repository/models/:model/aliases', async (ex) => {
    requireAdmin(ex, ctx.adminToken);
    const name = known(ex);
    const body = await ex.jsonBody(MAX_BODY);
    if (typeof body.alias !== 'string') throw new InferaError('ENG_ERR_BAD_REQUEST', "'alias' must be a string");
    const v = version(body.version, 'version');
    if (v === null) registry.removeAlias(name, body.alias, actor(ex));
    else registry.setAlias(name, body.alias, v, actor(ex), reason(body));
    await repository.load(name, { onlyMissing: true });
    ex.json(200, await state(name));
  });

  router.add('post', '/v2/repository/models/:model/deployment', async (ex) => {
    requireAdmin(ex, ctx.adminToken);
    const name = known(ex);
    const body = await ex.jsonBody(MAX_BODY);
    const stable = version(body.stable, 'stable');
    if (stable === null) throw new InferaError('ENG_ERR_BAD_REQUEST', "'stable' is required");
    const share = body.share === undefined ? undefined : Number(body.share);
    registry.deploy(name, { stable, candidate: version(body.candidate, 'candidate'), mode: (body.mode as DeploymentMode | undefined) ?? null, share }, actor(ex), reason(body));
    await repository.load(name, { onlyMissing: true });
    ex.json(200, await state(name));
  });

  for (const action of ['promote', 'rollback'] as const) {
    router.add('post', `/v2/repository/models/:model/${action}`, async (ex) => {
      requireAdmin(ex, ctx.adminToken);
      const name = known(ex);
      const body = await ex.jsonBody(MAX_BODY).catch(() => ({}) as Record<string, unknown>);
      registry[action](name, actor(ex), reason(body));
      await repository.load(name, { onlyMissing: true });
      ex.json(200, await state(name));
    });
  }
}
