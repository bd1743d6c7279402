/**
 * The model registry: every version of every model, aliases that move atomically, the
 * deployment of each model (a stable version and at most one candidate), and an audit log
 * of every change with its actor and evidence. SQLite (better-sqlite3), one file per
 * repository (`<repository>/.infera/registry.sqlite` by default), shared by the server and
 * the CLI: the server notices changes made by another process through SQLite's
 * data_version (see `changed()`). Schema migrations are numbered (PRAGMA user_version).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { InferaError } from '../errors';

export type DeploymentMode = 'canary' | 'ab' | 'shadow';

export interface Deployment {
  model: string;
  stable: number;
  candidate: number | null;
  mode: DeploymentMode | null;
  /** Share of traffic (canary, ab) or of requests mirrored (shadow) that the candidate gets, 0..1. */
  share: number;
  /** Reserved: the routing key is X-Routing-Key (or /predict's routing_key) for now. */
  keyHeader: string | null;
  updatedAt: number;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  model: string;
  version: number | null;
  detail: Record<string, unknown>;
}

/** Alias names: letters, digits, '-', '_'; not a number (that would read as a version). */
const ALIAS_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const MIGRATIONS: string[] = [
  `CREATE TABLE versions (model TEXT NOT NULL, version INTEGER NOT NULL, registered_at INTEGER NOT NULL,
     registered_by TEXT NOT NULL, source TEXT, PRIMARY KEY (model, version));
   CREATE TABLE aliases (model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL,
     PRIMARY KEY (model, alias));
   CREATE TABLE deployments (model TEXT PRIMARY KEY, stable INTEGER NOT NULL, candidate INTEGER, mode TEXT,
     share REAL NOT NULL DEFAULT 0, key_header TEXT, updated_at INTEGER NOT NULL);
   CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
     model TEXT NOT NULL, version INTEGER, detail TEXT NOT NULL);
   CREATE INDEX audit_model ON audit (model, id);`,
  // Replication through a shared database (shared-registry.ts): an audit row another replica
  // wrote carries its origin ('<replica>:<id>'); NULL marks the changes made here.
  `ALTER TABLE audit ADD COLUMN origin TEXT;
   CREATE UNIQUE INDEX audit_origin ON audit (origin) WHERE origin IS NOT NULL;`,
];

/** One model's registry rows, as stored: what replication copies between replicas. */
export interface ModelRows {
  versions: { version: number; registered_at: number; registered_by: string; source: string | null }[];
  aliases: { alias: string; version: number; updated_at: number }[];
  deployment: { stable: number; candidate: number | null; mode: string | null; share: number; key_header: string | null; updated_at: number } | null;
}

/** An audit row as replicated: `uid` is '<replica>:<local id>'. */
export interface ReplicatedAudit {
  uid: string;
  at: number;
  actor: string;
  action: string;
  model: string;
  version: number | null;
  detail: string;
}

/** The versions a deployment and a set of aliases name, ascending. */
export function referencedVersions(state: { deployment: Deployment | null; aliases: Record<string, number> }): number[] {
  const v = new Set(Object.values(state.aliases));
  const d = state.deployment;
  if (d) {
    v.add(d.stable);
    if (d.candidate !== null) v.add(d.candidate);
  }
  return [...v].sort((a, b) => a - b);
}

export function defaultRegistryPath(repository: string): string {
  return path.join(repository, '.infera', 'registry.sqlite');
}

export function checkAlias(alias: string): string {
  if (!ALIAS_RE.test(alias)) throw new InferaError('ENG_ERR_BAD_REQUEST', `alias '${alias.slice(0, 64)}' must start with a letter and hold only letters, digits, '-' and '_' (at most 64)`);
  return alias;
}

export class ModelRegistry {
  private readonly db: Database.Database;
  private readonly totalChanges: Database.Statement;
  /** data_version and total_changes() when changed() last looked. */
  private seen = '';

  /** @param file the SQLite file (created with its folder), or ':memory:'. */
  constructor(file: string, private readonly now: () => number = Date.now) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    if (file !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 2000');
    const at = this.db.pragma('user_version', { simple: true }) as number;
    this.totalChanges = this.db.prepare('SELECT total_changes()').pluck();
    for (let v = at; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /**
   * True once after anything changed the database: another connection's commit (SQLite's
   * data_version) or a row this one inserted, updated or deleted (total_changes(), so a
   * register() of a version already known is not a change).
   */
  changed(): boolean {
    const other = this.db.pragma('data_version', { simple: true }) as number;
    const own = this.totalChanges.get() as number;
    const stamp = `${other}/${own}`;
    if (stamp === this.seen) return false;
    this.seen = stamp;
    return true;
  }

  private audit(actor: string, action: string, model: string, version: number | null, detail: Record<string, unknown>): void {
    this.db.prepare('INSERT INTO audit (at, actor, action, model, version, detail) VALUES (?, ?, ?, ?, ?, ?)').run(this.now(), actor, action, model, version, JSON.stringify(detail));
  }

  private write<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Writes an audit entry for something that is not a registry change (a retraining run, an approval request). */
  record(actor: string, action: string, model: string, version: number | null, detail: Record<string, unknown>): void {
    this.write(() => this.audit(actor, action, model, version, detail));
  }

  /** Registers a version (idempotent: a known version is left as it is). @returns whether it was new. */
  register(model: string, version: number, actor: string, source: string | null = null): boolean {
    return this.write(() => {
      const r = this.db.prepare('INSERT OR IGNORE INTO versions (model, version, registered_at, registered_by, source) VALUES (?, ?, ?, ?, ?)').run(model, version, this.now(), actor, source);
      if (r.changes > 0) this.audit(actor, 'register', model, version, source ? { source } : {});
      return r.changes > 0;
    });
  }

  versions(model: string): { version: number; registeredAt: number; registeredBy: string; source: string | null }[] {
    return (this.db.prepare('SELECT version, registered_at, registered_by, source FROM versions WHERE model = ? ORDER BY version').all(model) as any[])
      .map((r) => ({ version: r.version, registeredAt: r.registered_at, registeredBy: r.registered_by, source: r.source }));
  }

  private requireVersion(model: string, version: number): void {
    if (!this.db.prepare('SELECT 1 FROM versions WHERE model = ? AND version = ?').get(model, version)) {
      throw new InferaError('ENG_ERR_VERSION_NOT_FOUND', `model '${model}' has no registered version ${version}`);
    }
  }

  /** Points an alias at a version (moving it if it exists). */
  setAlias(model: string, alias: string, version: number, actor: string, evidence: Record<string, unknown> = {}): void {
    checkAlias(alias);
    this.write(() => {
      this.requireVersion(model, version);
      const before = this.alias(model, alias);
      this.upsertAlias(model, alias, version);
      this.audit(actor, 'alias', model, version, { alias, from: before, ...evidence });
    });
  }

  /** Points an alias at a version inside a write (no audit: the caller records why). */
  private upsertAlias(model: string, alias: string, version: number): void {
    this.db.prepare('INSERT INTO aliases (model, alias, version, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at').run(model, alias, version, this.now());
  }

  removeAlias(model: string, alias: string, actor: string): void {
    this.write(() => {
      const before = this.alias(model, alias);
      if (before === null) throw new InferaError('ENG_ERR_BAD_REQUEST', `model '${model}' has no alias '${alias}'`);
      this.db.prepare('DELETE FROM aliases WHERE model = ? AND alias = ?').run(model, alias);
      this.audit(actor, 'unalias', model, before, { alias });
    });
  }

  alias(model: string, alias: string): number | null {
    const r = this.db.prepare('SELECT version FROM aliases WHERE model = ? AND alias = ?').get(model, alias) as { version: number } | undefined;
    return r ? r.version : null;
  }

  aliases(model: string): Record<string, number> {
    return Object.fromEntries((this.db.prepare('SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias').all(model) as any[]).map((r) => [r.alias, r.version]));
  }

  deployment(model: string): Deployment | null {
    const r = this.db.prepare('SELECT * FROM deployments WHERE model = ?').get(model) as any;
    return r ? { model, stable: r.stable, candidate: r.candidate, mode: r.mode, share: r.share, keyHeader: r.key_header, updatedAt: r.updated_at } : null;
  }

  /**
   * Sets a model's deployment: `stable` serves, `candidate` (if any) gets `share` of the
   * traffic by `mode`. The `production` alias follows stable, `candidate` the candidate.
   * @throws InferaError 400 for an inconsistent deployment, 404 for unregistered versions.
   */
  deploy(model: string, d: { stable: number; candidate?: number | null; mode?: DeploymentMode | null; share?: number; keyHeader?: string | null }, actor: string, evidence: Record<string, unknown> = {}): Deployment {
    const candidate = d.candidate ?? null;
    const mode = candidate === null ? null : d.mode ?? 'canary';
    const share = candidate === null ? 0 : d.share ?? 0.1;
    const bad = (m: string) => new InferaError('ENG_ERR_BAD_REQUEST', `deployment of '${model}': ${m}`);
    if (!Number.isInteger(d.stable) || d.stable < 1) throw bad('stable must be a version number');
    if (candidate !== null && (!Number.isInteger(candidate) || candidate < 1)) throw bad('candidate must be a version number');
    if (candidate === d.stable) throw bad('the candidate is the stable version');
    if (mode !== null && !['canary', 'ab', 'shadow'].includes(mode)) throw bad(`mode must be canary, ab or shadow, not '${mode}'`);
    if (!(share >= 0 && share <= 1)) throw bad('share must be in [0, 1]');
    this.write(() => {
      this.requireVersion(model, d.stable);
      if (candidate !== null) this.requireVersion(model, candidate);
      const before = this.deployment(model);
      this.db.prepare(`INSERT INTO deployments (model, stable, candidate, mode, share, key_header, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (model) DO UPDATE SET stable = excluded.stable, candidate = excluded.candidate, mode = excluded.mode, share = excluded.share, key_header = excluded.key_header, updated_at = excluded.updated_at`)
        .run(model, d.stable, candidate, mode, share, d.keyHeader ?? null, this.now());
      this.upsertAlias(model, 'production', d.stable);
      if (candidate !== null) this.upsertAlias(model, 'candidate', candidate);
      else this.db.prepare("DELETE FROM aliases WHERE model = ? AND alias = 'candidate'").run(model);
      this.audit(actor, 'deploy', model, candidate ?? d.stable, { stable: d.stable, candidate, mode, share, keyHeader: d.keyHeader ?? null, before, ...evidence });
    });
    return this.deployment(model)!;
  }

  /** The candidate becomes stable (and `production`); no candidate remains. */
  promote(model: string, actor: string, evidence: Record<string, unknown> = {}): Deployment {
    const d = this.deployment(model);
    if (!d || d.candidate === null) throw new InferaError('ENG_ERR_BAD_REQUEST', `model '${model}' has no candidate to promote`);
    const out = this.deploy(model, { stable: d.candidate }, actor, { via: 'promote', previous_stable: d.stable, ...evidence });
    this.write(() => this.audit(actor, 'promote', model, d.candidate, { previous_stable: d.stable, ...evidence }));
    return out;
  }

  /** The candidate is withdrawn: all traffic on stable. */
  rollback(model: string, actor: string, evidence: Record<string, unknown> = {}): Deployment {
    const d = this.deployment(model);
    if (!d || d.candidate === null) throw new InferaError('ENG_ERR_BAD_REQUEST', `model '${model}' has no candidate to roll back`);
    const out = this.deploy(model, { stable: d.stable }, actor, { via: 'rollback', withdrawn: d.candidate, ...evidence });
    this.write(() => this.audit(actor, 'rollback', model, d.candidate, { stable: d.stable, ...evidence }));
    return out;
  }

  /** Versions a model's aliases and deployment point at (the repository keeps them loaded). */
  referenced(model: string): number[] {
    return referencedVersions({ deployment: this.deployment(model), aliases: this.aliases(model) });
  }

  history(model: string, limit = 100): AuditEntry[] {
    return (this.db.prepare('SELECT * FROM audit WHERE model = ? ORDER BY id DESC LIMIT ?').all(model, limit) as any[])
      .map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, model: r.model, version: r.version, detail: JSON.parse(r.detail) }));
  }

  /** Audit rows made here (not replicated from elsewhere) with id > `afterId`, oldest first. */
  localAuditAfter(afterId: number): (ReplicatedAudit & { id: number })[] {
    return (this.db.prepare('SELECT id, at, actor, action, model, version, detail FROM audit WHERE id > ? AND origin IS NULL ORDER BY id').all(afterId) as any[])
      .map((r) => ({ ...r, uid: '' }));
  }

  /** A model's rows, for replication. */
  modelRows(model: string): ModelRows {
    return {
      versions: this.db.prepare('SELECT version, registered_at, registered_by, source FROM versions WHERE model = ? ORDER BY version').all(model) as ModelRows['versions'],
      aliases: this.db.prepare('SELECT alias, version, updated_at FROM aliases WHERE model = ? ORDER BY alias').all(model) as ModelRows['aliases'],
      deployment: (this.db.prepare('SELECT stable, candidate, mode, share, key_header, updated_at FROM deployments WHERE model = ?').get(model) as ModelRows['deployment'] | undefined) ?? null,
    };
  }

  /**
   * Takes a model's rows as another replica left them (the shared database's), with the audit
   * rows that explain them, in one transaction. Versions only accumulate; aliases and the
   * deployment are replaced. changed() then reports it, so the repository loads what they name.
   */
  applyReplicated(model: string, rows: ModelRows, audit: ReplicatedAudit[]): void {
    this.write(() => {
      const addVersion = this.db.prepare('INSERT OR IGNORE INTO versions (model, version, registered_at, registered_by, source) VALUES (?, ?, ?, ?, ?)');
      for (const v of rows.versions) addVersion.run(model, v.version, v.registered_at, v.registered_by, v.source);
      this.db.prepare('DELETE FROM aliases WHERE model = ?').run(model);
      const addAlias = this.db.prepare('INSERT INTO aliases (model, alias, version, updated_at) VALUES (?, ?, ?, ?)');
      for (const a of rows.aliases) addAlias.run(model, a.alias, a.version, a.updated_at);
      this.db.prepare('DELETE FROM deployments WHERE model = ?').run(model);
      const d = rows.deployment;
      if (d) this.db.prepare('INSERT INTO deployments (model, stable, candidate, mode, share, key_header, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(model, d.stable, d.candidate, d.mode, d.share, d.key_header, d.updated_at);
      const addAudit = this.db.prepare('INSERT OR IGNORE INTO audit (at, actor, action, model, version, detail, origin) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const a of audit) addAudit.run(a.at, a.actor, a.action, a.model, a.version, a.detail, a.uid);
    });
  }

  close(): void {
    this.db.close();
  }
}
