/**
 * Experiment tracking and lineage: every `infera train` run — what it was asked (pipeline file, overrides),
 * what it used (parameters, data hash, code commit), what it measured (metrics per window,
 * learning curves, stage timings), what it produced (the registered version and its folder) or
 * where it failed — in the registry's SQLite file, next to the versions it registered; and
 * every `infera score` run (model version, input and output files with their hashes and rows).
 *
 * Its own table (`runs`), created if missing; the registry's numbered migrations do not cover it,
 * so either module can open the file first.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export type RunStatus = 'running' | 'registered' | 'dry_run' | 'scored' | 'failed';

export type RunKind = 'train' | 'score';

export interface RunRecord {
  id: number;
  /** `infera train` or `infera score`. */
  kind: RunKind;
  model: string;
  status: RunStatus;
  started_at: number;
  finished_at: number | null;
  pipeline: string;
  /** The command's overrides (rows_limit, seed, epochs, dry_run). */
  options: Record<string, unknown>;
  /** The models' hyperparameters as trained. */
  params: Record<string, unknown> | null;
  data_sha256: string | null;
  code: Record<string, unknown> | null;
  /** Per model (the exported one and the baseline), per window: auc, log_loss, ece, … */
  metrics: Record<string, Record<string, Record<string, number>>> | null;
  /** Per model: training loss per epoch. */
  curves: Record<string, number[]> | null;
  timings: Record<string, number> | null;
  version: number | null;
  artifact: string | null;
  parent_run: number | null;
  failed_stage: string | null;
  error: string | null;
  /** A scoring run's files: input, output and rejects, each { path, sha256, rows }. */
  io: Record<string, { path: string; sha256: string | null; rows: number }> | null;
}

const JSON_COLUMNS = ['options', 'params', 'code', 'metrics', 'curves', 'timings', 'io'] as const;

export class RunLog {
  private readonly db: Database.Database;

  /** @param file the registry's SQLite file (created with its folder), or ':memory:'. */
  constructor(file: string, private readonly now: () => number = Date.now) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    if (file !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 2000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS runs (
      id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL DEFAULT 'train', model TEXT NOT NULL, status TEXT NOT NULL,
      started_at INTEGER NOT NULL, finished_at INTEGER, pipeline TEXT NOT NULL, options TEXT NOT NULL,
      params TEXT, data_sha256 TEXT, code TEXT, metrics TEXT, curves TEXT, timings TEXT,
      version INTEGER, artifact TEXT, parent_run INTEGER REFERENCES runs (id), failed_stage TEXT, error TEXT, io TEXT);
      CREATE INDEX IF NOT EXISTS runs_model ON runs (model, id);`);
  }

  /** Records a run as it starts; returns its id. */
  start(o: { kind?: RunKind; model: string; pipeline: string; options: Record<string, unknown>; parentRun?: number | null }): number {
    const r = this.db
      .prepare('INSERT INTO runs (kind, model, status, started_at, pipeline, options, parent_run) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(o.kind ?? 'train', o.model, 'running', this.now(), o.pipeline, JSON.stringify(o.options), o.parentRun ?? null);
    return Number(r.lastInsertRowid);
  }

  /** Records how a run ended. */
  finish(id: number, o: Partial<Pick<RunRecord, 'params' | 'data_sha256' | 'code' | 'metrics' | 'curves' | 'timings' | 'version' | 'artifact' | 'failed_stage' | 'error' | 'io'>> & { status: Exclude<RunStatus, 'running'> }): void {
    const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
    const r = this.db
      .prepare(`UPDATE runs SET status = ?, finished_at = ?, params = ?, data_sha256 = ?, code = ?, metrics = ?, curves = ?, timings = ?,
        version = ?, artifact = ?, failed_stage = ?, error = ?, io = ? WHERE id = ?`)
      .run(o.status, this.now(), json(o.params), o.data_sha256 ?? null, json(o.code), json(o.metrics), json(o.curves), json(o.timings),
        o.version ?? null, o.artifact ?? null, o.failed_stage ?? null, o.error ?? null, json(o.io), id);
    if (r.changes !== 1) throw new Error(`no run ${id}`);
  }

  get(id: number): RunRecord | null {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row ? decode(row) : null;
  }

  /** Newest first. */
  list(o: { model?: string; limit?: number } = {}): RunRecord[] {
    const limit = o.limit ?? 50;
    const rows = (o.model
      ? this.db.prepare('SELECT * FROM runs WHERE model = ? ORDER BY id DESC LIMIT ?').all(o.model, limit)
      : this.db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT ?').all(limit)) as Record<string, unknown>[];
    return rows.map(decode);
  }

  close(): void {
    this.db.close();
  }
}

function decode(row: Record<string, unknown>): RunRecord {
  const out = { ...row } as Record<string, unknown>;
  for (const c of JSON_COLUMNS) out[c] = typeof row[c] === 'string' ? JSON.parse(row[c] as string) : null;
  return out as unknown as RunRecord;
}
