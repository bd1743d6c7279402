/**
 * Online feature events shared by replicas through PostgreSQL (--database-url): an event
 * posted to any replica is stored in `infera_online_events` before that replica applies it,
 * and every other replica pulls it within a second (by transaction id, as the shared log
 * pulls labels: rows with prev ≤ tx < xmin of the current snapshot, so a slow transaction's
 * rows are never skipped). A replica that starts loads each source's retained history (the
 * longest window plus a day before its newest event) once.
 *
 * A write that fails fails the request (503): an event is on every replica or on none.
 */
import type { Pool } from 'pg';
import { migrate, SerialRounds, sharedPool } from '../db/postgres';
import type { OnlineFeatureStore, ParsedEvent } from './online-store';
import type { OnlineEventLog } from './local-events';

export const EVENTS_POLL_MS = 1_000;

const MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS infera_online_events (
     source text NOT NULL,
     replica text NOT NULL,
     event_ms double precision NOT NULL,
     event jsonb NOT NULL,
     tx xid8 NOT NULL DEFAULT pg_current_xact_id()
   )`,
  'CREATE INDEX IF NOT EXISTS infera_online_events_tx ON infera_online_events (tx)',
  'CREATE INDEX IF NOT EXISTS infera_online_events_time ON infera_online_events (source, event_ms)',
];

export interface SharedEventsOptions {
  url: string;
  replica: string;
  store: OnlineFeatureStore;
  /** Counts events applied here that other replicas received. */
  onReplicated?: (source: string, events: number) => void;
  log?: (obj: object, msg: string) => void;
}

export class SharedOnlineEvents implements OnlineEventLog {
  private readonly pool: Pool;
  private migrated: Promise<void> | null = null;
  private pullFrom: string | null = null;
  private readonly loaded = new Set<string>();
  private readonly rounds = new SerialRounds(() => this.pull());
  private timer: NodeJS.Timeout | null = null;
  private error: string | undefined;

  constructor(private readonly opts: SharedEventsOptions) {
    this.pool = sharedPool(opts.url, (e) => this.failed(e));
    this.timer = setInterval(() => void this.rounds.join(), EVENTS_POLL_MS);
    this.timer.unref();
  }

  /**
   * Stores validated events for every replica.
   * @throws Error when the database cannot be written (the caller stores nothing either).
   */
  async write(source: string, events: ParsedEvent[]): Promise<void> {
    await this.ready();
    await this.pool.query(
      'INSERT INTO infera_online_events (source, replica, event_ms, event) SELECT $1, $2, * FROM unnest($3::float8[], $4::jsonb[])',
      [source, this.opts.replica, events.map((e) => e.t), events.map((e) => JSON.stringify(e.row))],
    );
  }

  /** Waits for the first round (migration, history of the sources known so far); for tests and startup. */
  async sync(): Promise<void> {
    await this.rounds.next();
  }

  health(): { state: 'ok' | 'degraded'; error?: string } {
    return this.error === undefined ? { state: 'ok' } : { state: 'degraded', error: this.error };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.rounds.join().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  /** Migrates once and fixes where pulling starts: everything before it is history. */
  private ready(): Promise<void> {
    this.migrated ??= (async () => {
      await migrate(this.pool, MIGRATIONS);
      this.pullFrom = (await this.pool.query('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS x')).rows[0].x as string;
    })().catch((e) => {
      this.migrated = null;
      throw e;
    });
    return this.migrated;
  }

  /** One round: the history of sources new to this replica, then the others' new events. */
  private async pull(): Promise<void> {
    try {
      await this.ready();
      for (const source of this.opts.store.sourceNames()) {
        if (this.loaded.has(source)) continue;
        await this.loadHistory(source);
        this.loaded.add(source);
      }
      const r = await this.pool.query({
        text: `WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x)
               SELECT s.x::text, e.source, e.event FROM s LEFT JOIN infera_online_events e ON e.tx >= $1::xid8 AND e.tx < s.x AND e.replica <> $2
               ORDER BY e.event_ms`,
        values: [this.pullFrom, this.opts.replica],
        rowMode: 'array',
      });
      const bySource = new Map<string, Record<string, unknown>[]>();
      for (const [, source, event] of r.rows as [string, string | null, Record<string, unknown>][]) {
        if (source === null) continue;
        let list = bySource.get(source);
        if (!list) bySource.set(source, (list = []));
        list.push(event);
      }
      for (const [source, events] of bySource) this.apply(source, events);
      if (r.rows.length > 0) this.pullFrom = (r.rows[0] as string[])[0];
      if (this.error !== undefined) this.opts.log?.({}, 'online feature events: database reachable again');
      this.error = undefined;
    } catch (e) {
      this.failed(e as Error);
    }
  }

  /** Events of `source` stored before this replica's pulls began, within the store's retention. */
  private async loadHistory(source: string): Promise<void> {
    const r = await this.pool.query(
      `SELECT event FROM infera_online_events WHERE source = $1 AND tx < $2::xid8
         AND event_ms >= (SELECT max(event_ms) FROM infera_online_events WHERE source = $1 AND tx < $2::xid8) - $3
       ORDER BY event_ms`,
      [source, this.pullFrom, this.opts.store.retentionMs(source)],
    );
    this.apply(source, r.rows.map((row) => row.event as Record<string, unknown>));
  }

  private apply(source: string, events: Record<string, unknown>[]): void {
    if (!this.opts.store.has(source) || events.length === 0) return;
    try {
      const r = this.opts.store.ingest(source, events);
      this.opts.onReplicated?.(source, r.accepted);
    } catch (e) {
      // Another replica's model may read the source with other columns; its events stay there.
      this.opts.log?.({ source, err: (e as Error).message }, 'online feature events from another replica do not fit this replica\'s models; skipped');
    }
  }

  private failed(e: Error): void {
    if (this.error === undefined) this.opts.log?.({ err: e.message }, 'online feature events: database unreachable; ingest answers 503 until it returns');
    this.error = e.message || String(e);
  }
}
