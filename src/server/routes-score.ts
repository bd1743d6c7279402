/**
 * Batch scoring jobs over HTTP (src/scoring/score-jobs.ts), for schedulers; all need the admin
 * token (as load/unload), and every file must be inside the server's --score-dir.
 *   POST /v2/repository/models/{m}/score   {"input", "output", "version"?, "rejects"?, "chunk_rows"?, "limit"?} → 202 the job
 *   GET  /v2/score/jobs                     every job, newest first
 *   GET  /v2/score/jobs/{id}                one job: state, rows done of total, run id, result or error
 *   POST /v2/score/jobs/{id}/cancel         stops it (its committed chunks stay: the same request resumes it)
 */
import { InferaError } from '../errors';
import { checkModelName } from '../repository/paths';
import type { ScoreJobs } from '../scoring/score-jobs';
import { requireAdmin } from './admin-auth';
import type { HttpExchange } from './http-exchange';
import type { Router } from './router';

const MAX_BODY = 64 * 1024;

function jobId(ex: HttpExchange): number {
  const s = ex.params[0];
  if (!/^[1-9]\d{0,9}$/.test(s)) throw new InferaError('ENG_ERR_BAD_REQUEST', `job id '${s.slice(0, 32)}' must be a positive integer`);
  return Number(s);
}

function optionalPositive(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new InferaError('ENG_ERR_BAD_REQUEST', `'${field}' must be a positive integer`);
  return v;
}

export function registerScoreRoutes(ctx: { router: Router; jobs: ScoreJobs; adminToken?: string }): void {
  const { router, jobs } = ctx;
  router.add('post', '/v2/repository/models/:model/score', async (ex) => {
    requireAdmin(ex, ctx.adminToken);
    const model = checkModelName(ex.params[0]);
    const body = await ex.jsonBody(MAX_BODY);
    const v = body.version;
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 1) && !(typeof v === 'string' && /^@?[A-Za-z][\w-]*$/.test(v))) {
      throw new InferaError('ENG_ERR_BAD_REQUEST', "'version' must be a positive integer or '@alias'");
    }
    if (body.rejects !== undefined && typeof body.rejects !== 'string') throw new InferaError('ENG_ERR_BAD_REQUEST', "'rejects' must be a path");
    const job = jobs.start({
      model, version: v as number | string | undefined, input: body.input as string, output: body.output as string,
      rejects: body.rejects as string | undefined, chunkRows: optionalPositive(body, 'chunk_rows'), limit: optionalPositive(body, 'limit'),
    });
    ex.json(202, job);
  });
  router.add('get', '/v2/score/jobs', (ex) => {
    requireAdmin(ex, ctx.adminToken);
    ex.json(200, { jobs: jobs.list() });
  });
  router.add('get', '/v2/score/jobs/:id', (ex) => {
    requireAdmin(ex, ctx.adminToken);
    ex.json(200, jobs.get(jobId(ex)));
  });
  router.add('post', '/v2/score/jobs/:id/cancel', (ex) => {
    requireAdmin(ex, ctx.adminToken);
    ex.json(200, jobs.cancel(jobId(ex)));
  });
}
