/**
 * The /predict result cache: one interface, two backends. The default is an in-process LRU
 * (zero setup, per replica); with a cache URL it is Redis, shared by every replica, so an
 * answer computed on one is a hit on the others. The cache is an optimisation only: a store
 * that is down, slow or returns garbage costs a request at most COMMAND_TIMEOUT_MS, after which
 * the row is computed as without a cache; the failure is counted (infera_cache_errors_total,
 * infera_cache_requests_total{outcome="error"}, infera_cache_up) and GET /health says
 * "degraded", while readiness stays up. The client reconnects on its own.
 */
import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { canonicalJson } from '../features/feature-spec';
import { CacheMetrics, createCacheMetrics } from '../monitoring/metrics';
import type { Prediction } from '../protocol/predict-codec';
import { LruCache } from './lru-cache';

/** Seconds a shared answer lives (--cache-ttl). */
export const DEFAULT_CACHE_TTL_S = 3600;
/** The longest a request waits for the store before computing the row itself. */
export const COMMAND_TIMEOUT_MS = 50;
/** Longest wait between reconnection attempts to a store that went away. */
const MAX_RECONNECT_DELAY_MS = 1000;
/** Prefix of every shared key; the v1 names the value format (JSON of a Prediction). */
const KEY_PREFIX = 'infera:predict:v1';
const NOT_CONNECTED = 'not connected yet';

/** The fields of a serving version a cache key names (a ModelVersion has them). */
export interface CachedVersion {
  name: string;
  version: number;
  /** The backend's key of this load of the version: unique per process and per reload. */
  key: string;
  /** repository/version-digest.ts: equal on every replica serving the same files. */
  digest?: string;
}

export interface CacheHealth {
  backend: 'memory' | 'redis';
  state: 'ok' | 'degraded';
  /** The store, without credentials (redis only). */
  url?: string;
  /** Why it is degraded. */
  error?: string;
}

export interface PredictionCache {
  readonly backend: 'memory' | 'redis';
  /** The key of one row answered by `mv`; undefined: this row is not cached. */
  keyOf(mv: CachedVersion, row: Record<string, unknown>): string | undefined;
  /**
   * The cached answer, or undefined. The memory backend answers synchronously, so the hot path
   * awaits nothing; Redis returns a promise that never rejects and settles within the timeout.
   */
  get(key: string): Prediction | undefined | Promise<Prediction | undefined>;
  /** Stores an answer, in the background; never throws. */
  set(key: string, value: Prediction): void;
  /** Drops what this process holds (after a reload); a shared store is left as it is: its keys name the version's digest. */
  clear(): void;
  /** Starts connecting to a shared store (the server calls it on start). */
  connect(): void;
  health(): CacheHealth;
  close(): Promise<void>;
}

export interface PredictionCacheOptions {
  /** redis:// or rediss:// URL of a shared store; none: the in-process LRU. */
  url?: string;
  /** Entries of the in-process LRU (0 disables it). */
  size: number;
  ttlS?: number;
  registry: Registry;
  /** Where a change of state (degraded, recovered) is logged. */
  warn: (obj: object, msg: string) => void;
}

export function createPredictionCache(o: PredictionCacheOptions): PredictionCache {
  let memory: MemoryPredictionCache | undefined;
  const metrics = createCacheMetrics(o.registry, () => memory?.publishCounts());
  if (o.url) return new RedisPredictionCache(o.url, o.ttlS ?? DEFAULT_CACHE_TTL_S, metrics, o.warn);
  memory = new MemoryPredictionCache(o.size, metrics);
  return memory;
}

/**
 * What is wrong with a cache URL, or null when it is usable.
 * Only Redis is supported: redis://[:password@]host[:port][/db], rediss:// for TLS.
 */
export function cacheUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `'${redactUrl(url)}' is not a URL (expected redis://host:port)`;
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return `'${redactUrl(url)}' is not a redis:// or rediss:// URL (the only shared cache supported is Redis)`;
  if (!u.hostname) return `'${redactUrl(url)}' names no host`;
  return null;
}

/** The URL without its password, for logs, /health and `infera config print`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/**
 * The shared key of one row: model, version, the version's digest (so another model file or
 * an edited predict section under the same version number never reads these answers) and the
 * sha256 of the row's canonical JSON (keys sorted, so field order does not matter).
 * Undefined for a version without a digest.
 */
export function sharedKey(mv: CachedVersion, row: Record<string, unknown>): string | undefined {
  if (!mv.digest) return undefined;
  const rowDigest = crypto.createHash('sha256').update(canonicalJson(row, 0)).digest('hex');
  return `${KEY_PREFIX}:${mv.name}:${mv.version}:${mv.digest.slice(0, 16)}:${rowDigest}`;
}

/**
 * The in-process LRU: per replica, synchronous. It counts hits and misses in plain numbers that
 * reach infera_cache_requests_total at each scrape: a prom-client inc() costs ~150 ns, a fifth
 * of the lookup itself (measured, bench/tools/cache-hit-cost.ts).
 */
class MemoryPredictionCache implements PredictionCache {
  readonly backend = 'memory';
  private readonly lru: LruCache<Prediction>;
  private hits = 0;
  private misses = 0;
  private readonly published = { hits: 0, misses: 0 };
  private readonly hit;
  private readonly miss;

  constructor(size: number, metrics: CacheMetrics) {
    this.lru = new LruCache<Prediction>(size);
    this.hit = metrics.lookups.labels({ backend: 'memory', outcome: 'hit' });
    this.miss = metrics.lookups.labels({ backend: 'memory', outcome: 'miss' });
    metrics.up.set({ backend: 'memory' }, 1);
  }

  /** Adds the lookups since the last scrape to the counter. */
  publishCounts(): void {
    this.hit.inc(this.hits - this.published.hits);
    this.miss.inc(this.misses - this.published.misses);
    this.published.hits = this.hits;
    this.published.misses = this.misses;
  }

  keyOf(mv: CachedVersion, row: Record<string, unknown>): string {
    // mv.key is new at every load: a reload never reads answers of the version it replaced.
    return `${mv.key}\u0000${JSON.stringify(row)}`;
  }

  get(key: string): Prediction | undefined {
    const v = this.lru.get(key);
    if (v === undefined) this.misses++;
    else this.hits++;
    return v;
  }

  set(key: string, value: Prediction): void {
    this.lru.set(key, value);
  }

  clear(): void {
    this.lru.clear();
  }

  connect(): void {}

  health(): CacheHealth {
    return { backend: 'memory', state: 'ok' };
  }

  async close(): Promise<void> {
    this.lru.clear();
  }
}

/** Redis, shared by the replicas; answers as JSON under sharedKey() with a TTL. */
class RedisPredictionCache implements PredictionCache {
  readonly backend = 'redis';
  private readonly client: Redis;
  private readonly url: string;
  /** Why the store is degraded; null while the last command succeeded on a ready connection. */
  private problem: string | null = NOT_CONNECTED;
  private closing = false;
  private readonly hit;
  private readonly miss;
  private readonly lookupError;
  private readonly getError;
  private readonly setError;
  private readonly up;

  constructor(url: string, private readonly ttlS: number, metrics: CacheMetrics, private readonly warn: (obj: object, msg: string) => void) {
    this.url = redactUrl(url);
    // Loaded only when configured: requiring ioredis costs ~50 ms of startup (measured).
    const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
    this.client = new RedisClient(url, {
      lazyConnect: true,
      // A request never waits for a store that is away: no queue while disconnected, no
      // resending after a reconnect, and at most COMMAND_TIMEOUT_MS for an answer.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 1000,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    });
    this.hit = metrics.lookups.labels({ backend: 'redis', outcome: 'hit' });
    this.miss = metrics.lookups.labels({ backend: 'redis', outcome: 'miss' });
    this.lookupError = metrics.lookups.labels({ backend: 'redis', outcome: 'error' });
    this.getError = metrics.errors.labels({ backend: 'redis', operation: 'get' });
    this.setError = metrics.errors.labels({ backend: 'redis', operation: 'set' });
    this.up = metrics.up.labels({ backend: 'redis' });
    this.up.set(0);
    // Without an 'error' listener an unreachable store would crash the process.
    this.client.on('error', (e: Error) => this.degrade(e.message));
    // 'close' follows every failed attempt: it keeps the error that explains it.
    this.client.on('close', () => {
      if (this.problem === null) this.degrade('connection closed');
    });
    this.client.on('ready', () => this.recover());
  }

  keyOf(mv: CachedVersion, row: Record<string, unknown>): string | undefined {
    return sharedKey(mv, row);
  }

  get(key: string): Prediction | undefined | Promise<Prediction | undefined> {
    if (this.client.status !== 'ready') {
      this.lookupError.inc();
      this.getError.inc();
      return undefined;
    }
    return this.client.get(key).then(
      (text) => {
        this.recover();
        if (text === null) {
          this.miss.inc();
          return undefined;
        }
        const value = parsePrediction(text);
        if (value === undefined) {
          this.failedGet(`unreadable value under ${key}`);
          return undefined;
        }
        this.hit.inc();
        return value;
      },
      (e: Error) => {
        this.failedGet(e.message);
        return undefined;
      },
    );
  }

  set(key: string, value: Prediction): void {
    if (this.client.status !== 'ready') {
      this.setError.inc();
      return;
    }
    this.client.set(key, JSON.stringify(value), 'EX', this.ttlS).then(
      () => this.recover(),
      (e: Error) => {
        this.setError.inc();
        this.degrade(e.message);
      },
    );
  }

  clear(): void {}

  connect(): void {
    // A first failure is reported through 'error'; the client keeps retrying on its own.
    this.client.connect().catch(() => undefined);
  }

  health(): CacheHealth {
    return this.problem === null ? { backend: 'redis', state: 'ok', url: this.url } : { backend: 'redis', state: 'degraded', url: this.url, error: this.problem };
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.client.status === 'ready') await this.client.quit().catch(() => undefined);
    this.client.disconnect();
  }

  private failedGet(reason: string): void {
    this.lookupError.inc();
    this.getError.inc();
    this.degrade(reason);
  }

  private degrade(reason: string): void {
    if (this.closing) return;
    if (this.problem === null || this.problem === NOT_CONNECTED) this.warn({ cache: this.url, reason }, 'prediction cache degraded: predictions are computed without it');
    this.problem = reason;
    this.up.set(0);
  }

  private recover(): void {
    if (this.problem === null || this.client.status !== 'ready') return;
    if (this.problem !== NOT_CONNECTED) this.warn({ cache: this.url }, 'prediction cache recovered');
    this.problem = null;
    this.up.set(1);
  }
}

/** A stored answer, or undefined when the value is not one (another writer, a format change). */
function parsePrediction(text: string): Prediction | undefined {
  try {
    const v = JSON.parse(text) as Prediction;
    const ok = v !== null && typeof v === 'object' && (typeof v.prediction === 'number' || typeof v.prediction === 'string') && (v.confidence === null || typeof v.confidence === 'number');
    return ok ? v : undefined;
  } catch {
    return undefined;
  }
}
