/**
 * What the modules sharing state through PostgreSQL (--database-url) have in common: a small
 * pool with short timeouts, and idempotent migrations run under one advisory lock.
 */
import { Pool, type PoolClient } from 'pg';

/**
 * Two connections (a replica's writes are batched; more would only queue on the server), and
 * short timeouts: a dead database must cost a retry, never a stuck background round.
 */
export function sharedPool(url: string, onError: (e: Error) => void): Pool {
  const pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 2_000, query_timeout: 10_000, idleTimeoutMillis: 10_000 });
  pool.on('error', onError); // an idle client lost its connection; without a listener the process would exit
  return pool;
}

/** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/** Runs CREATE … IF NOT EXISTS statements in one transaction; one replica at a time. */
export async function migrate(pool: Pool, statements: string[]): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query("SELECT pg_advisory_xact_lock(hashtext('infera_migrations'))");
    for (const sql of statements) await c.query(sql);
  });
}

/**
 * A background round (write an outbox, pull changes) that never runs twice at once.
 * join() shares the round in flight or starts one; next() waits for the one in flight and
 * starts a fresh one, so it covers everything queued before it was called.
 */
export class SerialRounds {
  private running: Promise<void> | null = null;

  constructor(private readonly round: () => Promise<void>) {}

  join(): Promise<void> {
    if (this.running) return this.running;
    // Cleared in a callback, never synchronously: a round with nothing to await ends at once.
    const r = this.round().finally(() => {
      if (this.running === r) this.running = null;
    });
    this.running = r;
    return r;
  }

  next(): Promise<void> {
    return this.running ? this.running.then(() => this.join()) : this.join();
  }
}
