/**
 * The prediction log and the feedback join shared by every replica, in PostgreSQL
 * (`--database-url`). Each replica keeps its own embedded log (prediction-log.ts: its windows,
 * alerts and rollout checks read it synchronously) and copies what it writes here:
 *   - sampled predictions go through an outbox: batched, written every FLUSH_MS, bounded
 *     (rows beyond `maxBufferedRows` are dropped and counted), kept while the database is down
 *     and written when it returns;
 *   - labels (feedback) are stored even when their prediction has not arrived yet (it may sit
 *     in another replica's outbox), so they join whenever it does;
 *   - every replica pulls the labels that arrived through the others (polling, POLL_MS) and
 *     applies them to its embedded log, so its windows see them too.
 * Shared figures (quality()) are read from here: the same SQL over the same rows gives the same
 * answer on every replica. Inference never waits for the database: a replica whose database is
 * down keeps serving and says so (health(), infera_database_up).
 *
 * Label pulls use transaction ids, not a serial: a row's `tx` is the id of the transaction that
 * last wrote it, and a pull reads the rows with prev ≤ tx < xmin, where xmin is the oldest
 * transaction still running. Those transactions have all ended, and each is read by exactly one
 * pull — a serial can commit out of order and be skipped. A transaction left open elsewhere
 * holds xmin back and so delays (never loses) the pulls.
 */
import type { Pool } from 'pg';
import { migrate, SerialRounds, sharedPool } from '../db/postgres';
import { Counter, Gauge, Registry } from 'prom-client';
import type { LoggedPrediction } from './prediction-log';

/** Outbox writes: at most every FLUSH_MS, at most WRITE_ROWS rows per statement. */
const FLUSH_MS = 200;
const WRITE_ROWS = 5_000;
/** Labels from other replicas are pulled every POLL_MS. */
const POLL_MS = 1_000;
/** After a failure, the next attempt waits RETRY_MS. */
const RETRY_MS = 1_000;

const MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS infera_predictions (
     model text NOT NULL, id text NOT NULL, version integer NOT NULL, replica text NOT NULL, seq bigint NOT NULL,
     arrival_ms bigint NOT NULL, event_ms bigint, inputs text, output double precision NOT NULL,
     PRIMARY KEY (model, id, version))`,
  `CREATE INDEX IF NOT EXISTS infera_predictions_arrival ON infera_predictions (model, version, arrival_ms)`,
  `CREATE TABLE IF NOT EXISTS infera_labels (
     model text NOT NULL, id text NOT NULL, label double precision NOT NULL, label_ms bigint NOT NULL, replica text NOT NULL,
     tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
     PRIMARY KEY (model, id))`,
  `CREATE INDEX IF NOT EXISTS infera_labels_tx ON infera_labels (tx)`,
];

export interface SharedLogOptions {
  /** postgres://user@host:port/db */
  url: string;
  /** This replica's name (host name or pod name); labels it wrote itself are not pulled back. */
  replica: string;
  /** Outbox bound, in rows (predictions + labels). Default 100,000. */
  maxBufferedRows?: number;
  registry?: Registry;
  log?: (obj: object, msg: string) => void;
}

export interface SharedLabel {
  model: string;
  id: string;
  label: number;
  labelMs: number;
}

export interface SharedLogHealth {
  state: 'ok' | 'degraded';
  error?: string;
  buffered_rows: number;
  dropped_rows: number;
  last_write_ms: number | null;
}

interface Metrics {
  up: Gauge;
  buffered: Gauge;
  dropped: Counter<'kind'>;
  written: Counter<'kind'>;
  pulled: Counter;
}

function createMetrics(registry?: Registry): Metrics | undefined {
  if (!registry) return undefined;
  const registers = [registry];
  return {
    up: new Gauge({ name: 'infera_database_up', help: 'Whether the shared database (--database-url) answered the last write or pull (1) or not (0).', registers, aggregator: 'min' }),
    buffered: new Gauge({ name: 'infera_shared_log_buffered_rows', help: 'Prediction and label rows waiting in the outbox for the shared database.', registers }),
    dropped: new Counter({ name: 'infera_shared_log_dropped_rows_total', help: 'Rows dropped because the outbox was full (the shared database was down too long).', labelNames: ['kind'], registers }),
    written: new Counter({ name: 'infera_shared_log_written_rows_total', help: 'Rows written to the shared database.', labelNames: ['kind'], registers }),
    pulled: new Counter({ name: 'infera_shared_log_pulled_labels_total', help: 'Labels that arrived through other replicas, applied to this replica\'s log.', registers }),
  };
}

export class SharedPredictionLog {
  /** Receives the labels that arrived through other replicas, to apply to the embedded log (the hub sets it). */
  onLabels?: (model: string, items: { id: string; label: number }[]) => void;
  private readonly pool: Pool;
  private readonly maxBuffered: number;
  private readonly metrics?: Metrics;
  private predictions: LoggedPrediction[] = [];
  private labels: SharedLabel[] = [];
  private migrated = false;
  private pullFrom: string | null = null;
  private lastPull = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly rounds = new SerialRounds(() => this.round());
  private closed = false;
  private error: string | undefined;
  private dropped = 0;
  private lastWrite: number | null = null;

  constructor(private readonly opts: SharedLogOptions) {
    this.maxBuffered = opts.maxBufferedRows ?? 100_000;
    this.metrics = createMetrics(opts.registry);
    this.pool = sharedPool(opts.url, (e) => this.failed(e));
    this.metrics?.up.set(0);
    this.schedule(0);
  }

  /** Queues sampled predictions for the shared log (never blocks; drops beyond the bound). */
  addPredictions(rows: LoggedPrediction[]): void {
    if (this.closed) return;
    const room = this.maxBuffered - this.buffered();
    if (rows.length > room) this.drop('prediction', rows.length - Math.max(0, room));
    for (let i = 0; i < Math.min(rows.length, Math.max(0, room)); i++) this.predictions.push(rows[i]);
    this.metrics?.buffered.set(this.buffered());
  }

  /**
   * Stores labels (any replica's predictions; ones not logged yet join when they arrive).
   * Returns how many of the ids are in the shared log now, or null when the database is
   * down: the labels then wait in the outbox.
   */
  async addLabels(model: string, items: { id: string; label: number }[], nowMs = Date.now()): Promise<number | null> {
    // One row per id, the last label wins (as a second feedback would).
    const byId = new Map<string, number>();
    for (const it of items) byId.set(it.id, it.label);
    const rows: SharedLabel[] = [...byId].map(([id, label]) => ({ model, id, label, labelMs: nowMs }));
    try {
      await this.pump(); // predictions first, so the ones this replica served are known
      await this.writeLabels(rows);
      const known = await this.pool.query('SELECT count(DISTINCT id)::int AS n FROM infera_predictions WHERE model = $1 AND id = ANY($2::text[])', [model, [...byId.keys()]]);
      this.ok();
      return known.rows[0].n as number;
    } catch (e) {
      this.failed(e as Error);
      const room = this.maxBuffered - this.buffered();
      if (rows.length > room) this.drop('label', rows.length - Math.max(0, room));
      this.labels.push(...rows.slice(0, Math.max(0, room)));
      this.metrics?.buffered.set(this.buffered());
      return null;
    }
  }

  /**
   * Labelled predictions of a version with start ≤ arrival_ms < end, every replica's, in
   * (arrival, id) order: the same rows, so the same figures, on every replica.
   */
  async labelled(model: string, version: number, start: number, end: number): Promise<{ labels: Float64Array; outputs: Float64Array; replicas: number }> {
    const r = await this.pool.query({
      text: `SELECT l.label, p.output, p.replica FROM infera_predictions p JOIN infera_labels l ON l.model = p.model AND l.id = p.id
             WHERE p.model = $1 AND p.version = $2 AND p.arrival_ms >= $3 AND p.arrival_ms < $4 ORDER BY p.arrival_ms, p.id`,
      values: [model, version, start, end],
      rowMode: 'array',
    });
    const rows = r.rows as [number, number, string][];
    return { labels: Float64Array.from(rows, (x) => x[0]), outputs: Float64Array.from(rows, (x) => x[1]), replicas: new Set(rows.map((x) => x[2])).size };
  }

  /** Counts in the shared log (tests and status). */
  async count(model: string): Promise<{ predictions: number; labels: number; joined: number }> {
    const r = await this.pool.query(
      `SELECT (SELECT count(*)::int FROM infera_predictions WHERE model = $1) AS predictions,
              (SELECT count(*)::int FROM infera_labels WHERE model = $1) AS labels,
              (SELECT count(*)::int FROM infera_predictions p JOIN infera_labels l ON l.model = p.model AND l.id = p.id WHERE p.model = $1) AS joined`,
      [model],
    );
    return r.rows[0];
  }

  health(): SharedLogHealth {
    return { state: this.error === undefined && this.migrated ? 'ok' : 'degraded', ...(this.error ? { error: this.error } : {}), buffered_rows: this.buffered(), dropped_rows: this.dropped, last_write_ms: this.lastWrite };
  }

  /** Writes everything buffered now (tests, shutdown). Rejects when the database is down. */
  async flush(): Promise<void> {
    await this.pump();
    if (this.error) throw new Error(`shared log: ${this.error}`);
  }

  /** Writes what is buffered (best effort, bounded by the pool's timeouts), then disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    try {
      await this.pump();
    } catch {
      // the buffered rows are lost with the process; counted below
    }
    this.closed = true;
    if (this.buffered() > 0) this.opts.log?.({ rows: this.buffered() }, 'shared log: rows not written before shutdown');
    await this.pool.end();
  }

  private buffered(): number {
    return this.predictions.length + this.labels.length;
  }

  private drop(kind: 'prediction' | 'label', n: number): void {
    this.dropped += n;
    this.metrics?.dropped.inc({ kind }, n);
  }

  private schedule(ms: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump()
        .catch(() => undefined)
        .finally(() => this.schedule(this.error ? RETRY_MS : FLUSH_MS));
    }, ms);
    this.timer.unref();
  }

  /** One round after any in flight: everything queued before the call is written (or the round failed). */
  private pump(): Promise<void> {
    return this.rounds.next();
  }

  /** One round: migrate once, write the outbox, pull labels when due (SerialRounds: one at a time). */
  private async round(): Promise<void> {
    try {
      if (!this.migrated) await this.migrate();
      while (this.predictions.length > 0) {
        const rows = this.predictions.slice(0, WRITE_ROWS);
        await this.writePredictions(rows);
        this.predictions.splice(0, rows.length);
      }
      while (this.labels.length > 0) {
        const rows = this.labels.slice(0, WRITE_ROWS);
        await this.writeLabels(rows);
        this.labels.splice(0, rows.length);
      }
      if (Date.now() - this.lastPull >= POLL_MS) await this.pullLabels();
      this.ok();
    } catch (e) {
      this.failed(e as Error);
    } finally {
      this.metrics?.buffered.set(this.buffered());
    }
  }

  private async migrate(): Promise<void> {
    await migrate(this.pool, MIGRATIONS);
    // Labels written before this replica started are not pulled (its log cannot hold their predictions).
    if (this.pullFrom === null) this.pullFrom = (await this.pool.query('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS x')).rows[0].x as string;
    this.migrated = true;
  }

  private async writePredictions(rows: LoggedPrediction[]): Promise<void> {
    await this.pool.query(
      `INSERT INTO infera_predictions (model, id, version, replica, seq, arrival_ms, event_ms, inputs, output)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::float8[])
       ON CONFLICT DO NOTHING`,
      [rows.map((r) => r.model), rows.map((r) => r.id), rows.map((r) => r.version), rows.map(() => this.opts.replica), rows.map((r) => r.seq),
        rows.map((r) => r.arrivalMs), rows.map((r) => r.eventMs), rows.map((r) => r.inputs), rows.map((r) => r.output)],
    );
    this.lastWrite = Date.now();
    this.metrics?.written.inc({ kind: 'prediction' }, rows.length);
  }

  private async writeLabels(rows: SharedLabel[]): Promise<void> {
    if (!this.migrated) await this.migrate();
    await this.pool.query(
      `INSERT INTO infera_labels (model, id, label, label_ms, replica)
       SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::bigint[], $5::text[])
       ON CONFLICT (model, id) DO UPDATE SET label = excluded.label, label_ms = excluded.label_ms, replica = excluded.replica, tx = pg_current_xact_id()`,
      [rows.map((r) => r.model), rows.map((r) => r.id), rows.map((r) => r.label), rows.map((r) => r.labelMs), rows.map(() => this.opts.replica)],
    );
    this.lastWrite = Date.now();
    this.metrics?.written.inc({ kind: 'label' }, rows.length);
  }

  /** Applies the labels other replicas stored since the last pull to this replica's log. */
  private async pullLabels(): Promise<void> {
    const r = await this.pool.query({
      text: `WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x)
             SELECT s.x::text, l.model, l.id, l.label FROM s LEFT JOIN infera_labels l ON l.tx >= $1::xid8 AND l.tx < s.x AND l.replica <> $2`,
      values: [this.pullFrom, this.opts.replica],
      rowMode: 'array',
    });
    this.lastPull = Date.now();
    const byModel = new Map<string, { id: string; label: number }[]>();
    for (const [, model, id, label] of r.rows as [string, string | null, string, number][]) {
      if (model === null) continue;
      let list = byModel.get(model);
      if (!list) byModel.set(model, (list = []));
      list.push({ id, label });
    }
    for (const [model, items] of byModel) {
      this.metrics?.pulled.inc(items.length);
      this.onLabels?.(model, items);
    }
    if (r.rows.length > 0) this.pullFrom = (r.rows[0] as string[])[0];
  }

  private ok(): void {
    if (this.error !== undefined) this.opts.log?.({}, 'shared log: database reachable again');
    this.error = undefined;
    this.metrics?.up.set(1);
  }

  private failed(e: Error): void {
    if (this.error === undefined) this.opts.log?.({ err: e.message }, 'shared log: database unreachable; predictions are served and the log is buffered');
    this.error = e.message || String(e);
    this.metrics?.up.set(0);
  }
}
