/**
 * The prediction log (SQLite, better-sqlite3): a sample of served predictions with their
 * request id, version, inputs and output, joined later with delayed ground truth
 * (feedback). Sampling is decided by a hash of the id, so a given id is either always or
 * never logged. Retention by age and by row count. Writes happen off the request path
 * (the hub batches them in one transaction).
 */
import Database from 'better-sqlite3';
import { fnv1a } from '../features';

/** murmur3's finaliser: FNV-1a alone leaves ids differing in the last characters clustered. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface PredictionLogOptions {
  /** SQLite file, or ':memory:' (default). */
  path?: string;
  /** Share of predictions logged, 0..1 (default 1). */
  sampleRate?: number;
  /** Rows older than this (by arrival) are deleted (default 7 days). */
  retentionMs?: number;
  /** Newest rows kept at most (default 1,000,000). */
  maxRows?: number;
  /** Store the feature dicts as JSON (default true). */
  storeInputs?: boolean;
}

export interface LoggedPrediction {
  model: string;
  version: number;
  id: string;
  /** Row number within the model version's traffic (count windows). */
  seq: number;
  arrivalMs: number;
  eventMs: number | null;
  inputs: string | null;
  output: number;
}

export type RangeColumn = 'arrival_ms' | 'event_ms' | 'seq';

export interface Joined {
  ids: string[];
  labels: Float64Array;
  outputs: Float64Array;
}

/** Rows one retain() call deletes at most per rule (age, count): ~10 ms of SQLite work. */
export const RETAIN_CHUNK_ROWS = 4096;

export class PredictionLog {
  readonly sampleRate: number;
  readonly retentionMs: number;
  readonly maxRows: number;
  readonly storeInputs: boolean;
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly label: Database.Statement;
  private readonly pairs: Database.Statement;
  private readonly expired: Database.Statement;
  private readonly newestRowid: Database.Statement;
  private readonly oldestRowid: Database.Statement;
  private readonly beyondRows: Database.Statement;
  private readonly revisions = new Map<string, number>();

  constructor(opts: PredictionLogOptions = {}) {
    this.sampleRate = opts.sampleRate ?? 1;
    if (!(this.sampleRate >= 0 && this.sampleRate <= 1)) throw new Error(`prediction log: sample_rate must be in [0, 1], got ${opts.sampleRate}`);
    this.retentionMs = opts.retentionMs ?? 7 * 86_400_000;
    this.maxRows = opts.maxRows ?? 1_000_000;
    this.storeInputs = opts.storeInputs ?? true;
    this.db = new Database(opts.path ?? ':memory:');
    if ((opts.path ?? ':memory:') !== ':memory:') this.db.pragma('journal_mode = WAL');
    // Keyed by (model, id, version): a shadow candidate logs its answer to the same request
    // next to stable's, and one label joins both. Version 1 of the schema keyed (model, id).
    const columns = `model TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, seq INTEGER NOT NULL,
        arrival_ms INTEGER NOT NULL, event_ms INTEGER, inputs TEXT, output REAL NOT NULL,
        label REAL, label_ms INTEGER, PRIMARY KEY (model, id, version)`;
    const hasOld = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'predictions'").get() !== undefined
      && (this.db.pragma('user_version', { simple: true }) as number) < 2;
    this.db.transaction(() => {
      if (hasOld) {
        this.db.exec(`CREATE TABLE predictions_v2 (${columns});
          INSERT INTO predictions_v2 SELECT model, id, version, seq, arrival_ms, event_ms, inputs, output, label, label_ms FROM predictions;
          DROP TABLE predictions;
          ALTER TABLE predictions_v2 RENAME TO predictions;`);
      }
      this.db.exec(`CREATE TABLE IF NOT EXISTS predictions (${columns})`);
      this.db.pragma('user_version = 2');
    })();
    this.db.exec(`
      DROP INDEX IF EXISTS predictions_arrival;
      DROP INDEX IF EXISTS predictions_event;
      DROP INDEX IF EXISTS predictions_seq;
      CREATE INDEX IF NOT EXISTS predictions_labelled_arrival ON predictions (model, version, arrival_ms) WHERE label IS NOT NULL;
      CREATE INDEX IF NOT EXISTS predictions_labelled_event ON predictions (model, version, event_ms) WHERE label IS NOT NULL;
      CREATE INDEX IF NOT EXISTS predictions_labelled_seq ON predictions (model, version, seq) WHERE label IS NOT NULL;
      CREATE INDEX IF NOT EXISTS predictions_age ON predictions (arrival_ms);`);
    // The window indexes are partial: only joins read by window, and they read labelled rows
    // only, so an insert (label NULL) updates the table, the key and the age index alone.
    // With positional parameters: 3.6 µs a row instead of 6.0 (100k real-shaped rows, one core).
    this.insert = this.db.prepare(`INSERT OR REPLACE INTO predictions (model, id, version, seq, arrival_ms, event_ms, inputs, output)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.label = this.db.prepare('UPDATE predictions SET label = ?, label_ms = ? WHERE model = ? AND id = ? RETURNING version, seq, arrival_ms, event_ms');
    this.expired = this.db.prepare('DELETE FROM predictions WHERE rowid IN (SELECT rowid FROM predictions WHERE arrival_ms < ? LIMIT ?)');
    // Two statements: SQLite answers a lone min() or max() of the rowid from the b-tree's end,
    // but scans the whole table for both in one SELECT.
    this.newestRowid = this.db.prepare('SELECT max(rowid) FROM predictions').pluck();
    this.oldestRowid = this.db.prepare('SELECT min(rowid) FROM predictions').pluck();
    this.beyondRows = this.db.prepare('DELETE FROM predictions WHERE rowid <= ?');
    this.pairs = this.db.prepare('SELECT a.output AS a, b.output AS b, a.label AS label FROM predictions a JOIN predictions b ON b.model = a.model AND b.id = a.id AND b.version = ? WHERE a.model = ? AND a.version = ? AND a.arrival_ms >= ?');
  }

  /** Whether the prediction with this id is logged (deterministic in the id). */
  sampled(id: string): boolean {
    if (this.sampleRate >= 1) return true;
    if (this.sampleRate <= 0) return false;
    return mix32(fnv1a(id)) < this.sampleRate * 2 ** 32;
  }

  insertMany(rows: LoggedPrediction[]): void {
    if (rows.length === 0) return;
    this.db.transaction((list: LoggedPrediction[]) => {
      for (const r of list) this.insert.run(r.model, r.id, r.version, r.seq, r.arrivalMs, r.eventMs, r.inputs, r.output);
    })(rows);
  }

  /**
   * Joins labels to logged predictions; ids not in the log are returned as unknown.
   * `ranges`: per version, the [min, max] of seq / arrival / event time of the rows labelled.
   */
  setLabels(model: string, items: { id: string; label: number }[], nowMs = Date.now()): { matched: number; unknown: string[]; ranges: Map<number, Record<RangeColumn, [number, number]>> } {
    const unknown: string[] = [];
    const ranges = new Map<number, Record<RangeColumn, [number, number]>>();
    let matched = 0;
    this.db.transaction(() => {
      for (const it of items) {
        // Every version that answered the request (stable, and a shadow candidate) gets the label.
        const rows = this.label.all(it.label, nowMs, model, it.id) as { version: number; seq: number; arrival_ms: number; event_ms: number | null }[];
        if (rows.length === 0) {
          unknown.push(it.id);
          continue;
        }
        matched++;
        for (const row of rows) {
          let r = ranges.get(row.version);
          if (!r) ranges.set(row.version, (r = { seq: [Infinity, -Infinity], arrival_ms: [Infinity, -Infinity], event_ms: [Infinity, -Infinity] }));
          for (const k of ['seq', 'arrival_ms', 'event_ms'] as const) {
            const v = row[k];
            if (v !== null) r[k] = [Math.min(r[k][0], v), Math.max(r[k][1], v)];
          }
        }
      }
    })();
    if (matched > 0) this.revisions.set(model, this.revision(model) + 1);
    return { matched, unknown, ranges };
  }

  /** Changes whenever labels of the model change (for caching joined metrics). */
  revision(model: string): number {
    return this.revisions.get(model) ?? 0;
  }

  /** Labelled predictions of a version with start ≤ column < end, in arrival order. */
  joined(model: string, version: number, column: RangeColumn, start: number, end: number): Joined {
    const rows = this.db
      .prepare(`SELECT id, label, output FROM predictions WHERE model = ? AND version = ? AND ${column} >= ? AND ${column} < ? AND label IS NOT NULL ORDER BY seq`)
      .raw()
      .all(model, version, start, end) as [string, number, number][];
    return { ids: rows.map((r) => r[0]), labels: Float64Array.from(rows, (r) => r[1]), outputs: Float64Array.from(rows, (r) => r[2]) };
  }

  /**
   * The requests two versions both answered (a shadow candidate next to stable) since
   * `sinceMs`: their outputs side by side and the label when known (NaN otherwise).
   */
  paired(model: string, stable: number, candidate: number, sinceMs: number): { stable: Float64Array; candidate: Float64Array; labels: Float64Array } {
    const rows = this.pairs.all(candidate, model, stable, sinceMs) as { a: number; b: number; label: number | null }[];
    return {
      stable: Float64Array.from(rows, (r) => r.a),
      candidate: Float64Array.from(rows, (r) => r.b),
      labels: Float64Array.from(rows, (r) => (r.label === null ? NaN : r.label)),
    };
  }

  get(model: string, id: string): (LoggedPrediction & { label: number | null }) | undefined {
    const r = this.db.prepare('SELECT * FROM predictions WHERE model = ? AND id = ?').get(model, id) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    return { model, id, version: Number(r.version), seq: Number(r.seq), arrivalMs: Number(r.arrival_ms), eventMs: r.event_ms === null ? null : Number(r.event_ms), inputs: r.inputs as string | null, output: Number(r.output), label: r.label === null ? null : Number(r.label) };
  }

  count(model?: string, version?: number): { rows: number; labelled: number } {
    const where = model === undefined ? '' : version === undefined ? 'WHERE model = ?' : 'WHERE model = ? AND version = ?';
    const args = [model, version].filter((v) => v !== undefined);
    const r = this.db.prepare(`SELECT count(*) AS n, count(label) AS l FROM predictions ${where}`).get(...args) as { n: number; l: number };
    return { rows: r.n, labelled: r.l };
  }

  /**
   * Deletes rows past retention, then the oldest rows (by insertion: rowid) beyond the newest
   * maxRows; at most `maxDelete` of each per call. Returns rows deleted.
   *
   * Bounded and index-driven because it runs on the event loop: once a minute, a count(*) over
   * the table and an ORDER BY over all of it held the loop 266–508 ms at ~700k rows
   * (/predict at 10k req/s, bench/tools/rollout-load.ts). Now the age cut walks the age index,
   * the row cut a rowid range (rowids grow with insertion; a replaced row leaves a hole, so the
   * log may keep a little under maxRows, never over), and the hub calls it after every write, so
   * each call deletes about what that write added.
   */
  retain(nowMs = Date.now(), maxDelete = RETAIN_CHUNK_ROWS): number {
    let deleted = this.expired.run(nowMs - this.retentionMs, maxDelete).changes;
    const newest = this.newestRowid.get() as number | null;
    const oldest = this.oldestRowid.get() as number | null;
    if (newest !== null && oldest !== null) {
      const cutoff = Math.min(newest - this.maxRows, oldest + maxDelete - 1);
      if (cutoff >= oldest) deleted += this.beyondRows.run(cutoff).changes;
    }
    return deleted;
  }

  close(): void {
    this.db.close();
  }
}
