/**
 * Batch scoring as a server job, for schedulers: `infera score` run in a child process (its
 * own memory and worker pool, so a large file never grows the serving process, and a crash or
 * a cancel loses nothing the next run cannot resume), on files inside one allowed directory.
 * The job's state comes from the child: its run id, its progress lines, its JSON result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { InferaError } from '../errors';
import { resolveInside } from '../repository/paths';

export type JobState = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface ScoreJob {
  id: number;
  model: string;
  version: string | null;
  input: string;
  output: string;
  state: JobState;
  started_at: string;
  finished_at: string | null;
  run: number | null;
  done: number;
  total: number | null;
  result: Record<string, unknown> | null;
  error: string | null;
}

export interface ScoreJobRequest {
  model: string;
  /** A version number, or '@alias'. */
  version?: number | string;
  input: string;
  output: string;
  rejects?: string;
  chunkRows?: number;
  limit?: number;
}

/** Finished jobs kept for status requests. */
const KEEP_FINISHED = 100;

export class ScoreJobs {
  private readonly jobs = new Map<number, ScoreJob>();
  private readonly children = new Map<number, ChildProcess>();
  private next = 1;

  /** @throws Error when `dir` is given and is not a directory. */
  constructor(private readonly o: { cli: string; repository: string; registry?: string; dir: string | null }) {
    if (o.dir !== null && !fs.statSync(o.dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--score-dir '${o.dir}' is not a directory`);
  }

  /** A path of a request, inside the scoring directory. @throws InferaError 403 / 400 */
  private inside(p: unknown, field: string): string {
    if (!this.o.dir) throw new InferaError('ENG_ERR_FORBIDDEN', 'batch scoring over HTTP is off: start the server with --score-dir DIR (the directory its files must be in)');
    if (typeof p !== 'string' || p === '') throw new InferaError('ENG_ERR_BAD_REQUEST', `'${field}' must be a path inside the scoring directory`);
    try {
      return resolveInside(this.o.dir, p);
    } catch {
      throw new InferaError('ENG_ERR_BAD_REQUEST', `'${field}': '${p.slice(0, 200)}' is outside the scoring directory`);
    }
  }

  start(req: ScoreJobRequest): ScoreJob {
    const input = this.inside(req.input, 'input');
    const output = this.inside(req.output, 'output');
    const rejects = req.rejects === undefined ? undefined : this.inside(req.rejects, 'rejects');
    if ([...this.jobs.values()].some((j) => j.state === 'running' && j.output === output)) throw new InferaError('ENG_ERR_CONFLICT', `a job is already writing '${req.output}'`);
    const v = req.version;
    const ref = v === undefined ? req.model : typeof v === 'number' ? `${req.model}/${v}` : `${req.model}@${String(v).replace(/^@/, '')}`;
    const args = [this.o.cli, 'score', '--model', ref, '--input', input, '--output', output, '--repository', this.o.repository, '--json', '--progress-every', '1'];
    if (this.o.registry) args.push('--registry', this.o.registry);
    if (rejects) args.push('--rejects', rejects);
    if (req.chunkRows !== undefined) args.push('--chunk-rows', String(req.chunkRows));
    if (req.limit !== undefined) args.push('--limit', String(req.limit));
    const job: ScoreJob = {
      id: this.next++, model: req.model, version: v === undefined ? null : String(v), input: path.relative(this.o.dir!, input), output: path.relative(this.o.dir!, output),
      state: 'running', started_at: new Date().toISOString(), finished_at: null, run: null, done: 0, total: null, result: null, error: null,
    };
    this.jobs.set(job.id, job);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.set(job.id, child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
      const run = /^run (\d+)$/m.exec(stderr);
      if (run) job.run = Number(run[1]);
      const all = [...stderr.matchAll(/scored ([\d,]+) of ([\d,]+) rows/g)];
      const last = all[all.length - 1];
      if (last) [job.done, job.total] = [Number(last[1].replace(/,/g, '')), Number(last[2].replace(/,/g, ''))];
    });
    child.on('error', (e) => this.end(job, 'failed', e.message));
    child.on('exit', (code, signal) => {
      if (job.state !== 'running') return;
      if (code === 0) {
        try {
          job.result = JSON.parse(stdout) as Record<string, unknown>;
          job.done = job.total = Number(job.result.rows);
          this.end(job, 'succeeded', null);
        } catch {
          this.end(job, 'failed', 'the scoring process printed no result');
        }
      } else {
        this.end(job, 'failed', (/score failed: (.*)/.exec(stderr)?.[1] ?? `exited with ${code ?? signal}`).slice(0, 1000));
      }
    });
    return { ...job };
  }

  get(id: number): ScoreJob {
    const job = this.jobs.get(id);
    if (!job) throw new InferaError('ENG_ERR_JOB_NOT_FOUND', `no scoring job ${id}`);
    return { ...job };
  }

  list(): ScoreJob[] {
    return [...this.jobs.values()].reverse().map((j) => ({ ...j }));
  }

  /** Stops a running job; its committed chunks stay, so the same request resumes it. */
  cancel(id: number): ScoreJob {
    const job = this.jobs.get(id);
    if (!job) throw new InferaError('ENG_ERR_JOB_NOT_FOUND', `no scoring job ${id}`);
    if (job.state === 'running') {
      this.end(job, 'cancelled', null);
      this.children.get(id)?.kill('SIGTERM');
    }
    return { ...job };
  }

  /** Stops every running job (server shutdown). */
  close(): void {
    for (const [id, job] of this.jobs) if (job.state === 'running') this.cancel(id);
  }

  private end(job: ScoreJob, state: JobState, error: string | null): void {
    if (job.state !== 'running') return;
    job.state = state;
    job.error = error;
    job.finished_at = new Date().toISOString();
    this.children.delete(job.id);
    const finished = [...this.jobs.values()].filter((j) => j.state !== 'running');
    for (const old of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(old.id);
  }
}
