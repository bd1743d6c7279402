/**
 * The registry shared by replicas through PostgreSQL (`--database-url`). Each replica keeps
 * its SQLite registry (registry.ts: the synchronous reads of routing and the CLI) and
 * replicates it: every SYNC_MS one round
 *   1. pushes the changes made here: the rows its own audit rows changed (a registered
 *      version, a moved or removed alias, a deployment), as they are here, with those audit
 *      rows, in one transaction under the model's advisory lock;
 *   2. pulls the changes made elsewhere: the audit rows other replicas wrote since the last
 *      pull (by transaction id, as shared-log.ts pulls labels: none is skipped), then each
 *      touched model's rows as the database holds them now, applied here in one transaction.
 * So an alias moved through one replica is served by every other within about two rounds
 * (push on the first, pull on the next: ≤ 2 × SYNC_MS plus the queries). Concurrent changes
 * to the same model through two replicas within one round: the later push wins; the audit log
 * keeps both. The rollout controller runs on one replica only: the holder of a session
 * advisory lock (leader()); if its connection drops, another replica takes over.
 */
import { Client, type Pool } from 'pg';
import { inTransaction, migrate, SerialRounds, sharedPool } from '../db/postgres';
import { Gauge, Registry } from 'prom-client';
import type { ModelRegistry, ModelRows, ReplicatedAudit } from './registry';

export const SYNC_MS = 500;
/** pg_advisory_lock key of the rollout leader ("infera-rollout" as two int4s). */
const LEADER_LOCK = [0x696e6665, 0x726f6c6c];

const MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS infera_registry_versions (model text NOT NULL, version integer NOT NULL, registered_at bigint NOT NULL,
     registered_by text NOT NULL, source text, PRIMARY KEY (model, version))`,
  `CREATE TABLE IF NOT EXISTS infera_registry_aliases (model text NOT NULL, alias text NOT NULL, version integer NOT NULL, updated_at bigint NOT NULL,
     PRIMARY KEY (model, alias))`,
  `CREATE TABLE IF NOT EXISTS infera_registry_deployments (model text PRIMARY KEY, stable integer NOT NULL, candidate integer, mode text,
     share double precision NOT NULL, key_header text, updated_at bigint NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS infera_registry_audit (uid text PRIMARY KEY, at bigint NOT NULL, actor text NOT NULL, action text NOT NULL,
     model text NOT NULL, version integer, detail text NOT NULL, tx xid8 NOT NULL DEFAULT pg_current_xact_id())`,
  `CREATE INDEX IF NOT EXISTS infera_registry_audit_tx ON infera_registry_audit (tx)`,
];

export interface SharedRegistryOptions {
  url: string;
  /** This replica's name: the prefix of the audit rows it pushes. */
  replica: string;
  registry: ModelRegistry;
  metrics?: Registry;
  log?: (obj: object, msg: string) => void;
  /** Called after changes from elsewhere were applied (the server re-reads its routing at once). */
  onApplied?: () => Promise<void>;
}

export interface SharedRegistryHealth {
  state: 'ok' | 'degraded';
  error?: string;
  /** Whether this replica runs the rollout controller. */
  leader: boolean;
  last_sync_ms: number | null;
}

/**
 * The rows a model's own audit rows changed: only those are pushed, so a replica never
 * overwrites what another changed (a register here must not push this replica's aliases).
 */
function touchedBy(audit: ReplicatedAudit[]): { versions: Set<number>; aliases: Set<string>; deployment: boolean } {
  const t = { versions: new Set<number>(), aliases: new Set<string>(), deployment: false };
  for (const a of audit) {
    if (a.action === 'register' && a.version !== null) t.versions.add(a.version);
    else if (a.action === 'alias' || a.action === 'unalias') t.aliases.add(String((JSON.parse(a.detail) as { alias?: unknown }).alias));
    else if (a.action === 'deploy') {
      // deploy() (and promote/rollback through it) moves 'production' and sets or drops 'candidate'.
      t.deployment = true;
      t.aliases.add('production');
      t.aliases.add('candidate');
    }
  }
  return t;
}

export class SharedRegistry {
  private readonly pool: Pool;
  private leaderClient: Client | null = null;
  private isLeader = false;
  private migrated = false;
  private pushedId = 0;
  private pullFrom = '0';
  private error: string | undefined;
  private lastSync: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly rounds = new SerialRounds(() => this.round());
  private closed = false;
  private readonly up?: Gauge;

  constructor(private readonly opts: SharedRegistryOptions) {
    this.pool = sharedPool(opts.url, (e) => this.failed(e));
    if (opts.metrics) this.up = new Gauge({ name: 'infera_registry_sync_up', help: 'Whether the last registry replication round with the shared database succeeded (1) or not (0).', registers: [opts.metrics], aggregator: 'min' });
  }

  /** Runs the first round (so a replica starts with the shared state when it can) and then one every SYNC_MS. */
  async start(): Promise<void> {
    await this.sync();
    const tick = () => {
      this.timer = setTimeout(() => void this.sync().finally(() => !this.closed && tick()), SYNC_MS);
      this.timer.unref();
    };
    tick();
  }

  /** One push-then-pull round; never rejects (a failure degrades and is retried next round). */
  sync(): Promise<void> {
    return this.rounds.join();
  }

  /** Whether this replica holds the rollout lock (tries to take it when it does not). */
  async leader(): Promise<boolean> {
    if (this.closed) return false;
    try {
      if (!this.leaderClient) {
        const c = new Client({ connectionString: this.opts.url, connectionTimeoutMillis: 2_000 });
        c.on('error', () => this.dropLeader());
        await c.connect();
        this.leaderClient = c;
      }
      if (!this.isLeader) {
        const r = await this.leaderClient.query('SELECT pg_try_advisory_lock($1, $2) AS got', LEADER_LOCK);
        this.isLeader = r.rows[0].got === true;
        if (this.isLeader) this.opts.log?.({ replica: this.opts.replica }, 'registry: this replica now runs the rollout controller');
      }
    } catch {
      this.dropLeader();
    }
    return this.isLeader;
  }

  health(): SharedRegistryHealth {
    return { state: this.error === undefined && this.migrated ? 'ok' : 'degraded', ...(this.error ? { error: this.error } : {}), leader: this.isLeader, last_sync_ms: this.lastSync };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    await this.sync(); // what changed here last reaches the others
    this.closed = true;
    this.dropLeader();
    await this.pool.end();
  }

  private dropLeader(): void {
    const c = this.leaderClient;
    this.leaderClient = null;
    this.isLeader = false;
    c?.end().catch(() => undefined); // the session ends, so does its lock
  }

  private async round(): Promise<void> {
    try {
      if (!this.migrated) await this.migrate();
      await this.push();
      await this.pull();
      this.lastSync = Date.now();
      if (this.error !== undefined) this.opts.log?.({}, 'registry: shared database reachable again');
      this.error = undefined;
      this.up?.set(1);
    } catch (e) {
      this.failed(e as Error);
    }
  }

  private failed(e: Error): void {
    if (this.error === undefined) this.opts.log?.({ err: e.message }, 'registry: shared database unreachable; serving the registry as this replica last saw it');
    this.error = e.message || String(e);
    this.up?.set(0);
  }

  private async migrate(): Promise<void> {
    await migrate(this.pool, MIGRATIONS);
    this.migrated = true;
  }

  private async push(): Promise<void> {
    const own = this.opts.registry.localAuditAfter(this.pushedId);
    if (own.length === 0) return;
    const byModel = new Map<string, typeof own>();
    for (const a of own) {
      let list = byModel.get(a.model);
      if (!list) byModel.set(a.model, (list = []));
      list.push(a);
    }
    for (const [model, audit] of byModel) {
      const rows = this.opts.registry.modelRows(model);
      const touched = touchedBy(audit);
      await inTransaction(this.pool, async (c) => {
        await c.query("SELECT pg_advisory_xact_lock(hashtext('infera_registry:' || $1))", [model]);
        for (const v of rows.versions.filter((x) => touched.versions.has(x.version))) {
          await c.query('INSERT INTO infera_registry_versions (model, version, registered_at, registered_by, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [model, v.version, v.registered_at, v.registered_by, v.source]);
        }
        for (const alias of touched.aliases) {
          const a = rows.aliases.find((x) => x.alias === alias);
          if (a) await c.query('INSERT INTO infera_registry_aliases (model, alias, version, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at', [model, a.alias, a.version, a.updated_at]);
          else await c.query('DELETE FROM infera_registry_aliases WHERE model = $1 AND alias = $2', [model, alias]);
        }
        const d = rows.deployment;
        if (touched.deployment && d) {
          await c.query(`INSERT INTO infera_registry_deployments (model, stable, candidate, mode, share, key_header, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (model) DO UPDATE SET stable = excluded.stable, candidate = excluded.candidate, mode = excluded.mode, share = excluded.share, key_header = excluded.key_header, updated_at = excluded.updated_at`,
          [model, d.stable, d.candidate, d.mode, d.share, d.key_header, d.updated_at]);
        }
        for (const a of audit) {
          await c.query('INSERT INTO infera_registry_audit (uid, at, actor, action, model, version, detail) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING', [`${this.opts.replica}:${a.id}`, a.at, a.actor, a.action, a.model, a.version, a.detail]);
        }
      });
    }
    this.pushedId = own[own.length - 1].id;
  }

  private async pull(): Promise<void> {
    const r = await this.pool.query({
      text: `WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x)
             SELECT s.x::text AS xmin, a.uid, a.at, a.actor, a.action, a.model, a.version, a.detail
             FROM s LEFT JOIN infera_registry_audit a ON a.tx >= $1::xid8 AND a.tx < s.x AND NOT starts_with(a.uid, $2)
             ORDER BY a.tx, a.uid`,
      values: [this.pullFrom, `${this.opts.replica}:`],
    });
    const byModel = new Map<string, ReplicatedAudit[]>();
    for (const row of r.rows as (ReplicatedAudit & { xmin: string })[]) {
      if (row.uid === null) continue;
      let list = byModel.get(row.model);
      if (!list) byModel.set(row.model, (list = []));
      list.push({ uid: row.uid, at: Number(row.at), actor: row.actor, action: row.action, model: row.model, version: row.version, detail: row.detail });
    }
    for (const [model, audit] of byModel) this.opts.registry.applyReplicated(model, await this.modelRows(model), audit);
    if (r.rows.length > 0) this.pullFrom = r.rows[0].xmin as string;
    if (byModel.size > 0) await this.opts.onApplied?.();
  }

  private async modelRows(model: string): Promise<ModelRows> {
    const [versions, aliases, deployment] = await Promise.all([
      this.pool.query('SELECT version, registered_at::float8 AS registered_at, registered_by, source FROM infera_registry_versions WHERE model = $1 ORDER BY version', [model]),
      this.pool.query('SELECT alias, version, updated_at::float8 AS updated_at FROM infera_registry_aliases WHERE model = $1 ORDER BY alias', [model]),
      this.pool.query('SELECT stable, candidate, mode, share, key_header, updated_at::float8 AS updated_at FROM infera_registry_deployments WHERE model = $1', [model]),
    ]);
    return { versions: versions.rows, aliases: aliases.rows, deployment: deployment.rows[0] ?? null };
  }
}
