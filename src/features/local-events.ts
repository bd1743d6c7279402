/**
 * Online feature events kept in the server's embedded database (the registry's SQLite file,
 * <repository>/.infera/registry.sqlite by default; table `online_events`), so a restarted
 * server serves the same aggregates without the history being posted again. Without a
 * registry file (':memory:') events live in memory only. Replicas use the shared PostgreSQL
 * log instead (shared-events.ts); both answer to OnlineEventLog.
 *
 * Writes are synchronous SQLite transactions on the event loop (≈ 1 µs an event); events older
 * than the store's retention before the source's newest event are deleted as new ones arrive.
 */
import Database from 'better-sqlite3';
import type { OnlineFeatureStore, ParsedEvent } from './online-store';

/** Where a server keeps the events it is sent, and from where it loads them at start. */
export interface OnlineEventLog {
  /** Stores validated events; throws when they could not be stored (the caller stores nothing). */
  write(source: string, events: ParsedEvent[]): Promise<void>;
  /** Loads what the store lacks (history of sources new to it); resolves when done. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export class LocalOnlineEvents implements OnlineEventLog {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly newest: Database.Statement;
  private readonly prune: Database.Statement;
  private readonly loaded = new Set<string>();

  constructor(file: string, private readonly store: OnlineFeatureStore, private readonly log?: (obj: object, msg: string) => void) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 2000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS online_events (source TEXT NOT NULL, event_ms REAL NOT NULL, event TEXT NOT NULL);
                  CREATE INDEX IF NOT EXISTS online_events_time ON online_events (source, event_ms);`);
    this.insert = this.db.prepare('INSERT INTO online_events (source, event_ms, event) VALUES (?, ?, ?)');
    this.newest = this.db.prepare('SELECT max(event_ms) AS m FROM online_events WHERE source = ?');
    this.prune = this.db.prepare('DELETE FROM online_events WHERE source = ? AND event_ms < ?');
  }

  async write(source: string, events: ParsedEvent[]): Promise<void> {
    const retention = this.store.retentionMs(source);
    this.db.transaction(() => {
      for (const e of events) this.insert.run(source, e.t, JSON.stringify(e.row));
      const { m } = this.newest.get(source) as { m: number | null };
      if (m !== null && retention > 0) this.prune.run(source, m - retention);
    })();
  }

  async sync(): Promise<void> {
    for (const source of this.store.sourceNames()) {
      if (this.loaded.has(source)) continue;
      this.loaded.add(source);
      const rows = this.db.prepare(`SELECT event FROM online_events WHERE source = ?
        AND event_ms >= (SELECT max(event_ms) FROM online_events WHERE source = ?) - ? ORDER BY event_ms`).all(source, source, this.store.retentionMs(source)) as { event: string }[];
      if (rows.length === 0) continue;
      try {
        this.store.ingest(source, rows.map((r) => JSON.parse(r.event) as Record<string, unknown>));
      } catch (e) {
        // Stored for a model that read the source with other columns: kept on disk, not served.
        this.log?.({ source, err: (e as Error).message }, 'stored online feature events do not fit the loaded models; not loaded');
      }
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
