/**
 * One server as N processes on one port (`infera serve --processes N`): what each serving
 * process exchanges with the others through its supervisor (src/cli/process-supervisor.ts),
 * over the IPC channel Node opens between them.
 *
 * Three things cross processes; everything else a process serves from its own state:
 * - /metrics: the answering process asks the supervisor for every process's metrics and
 *   answers their aggregate (prom-client's cluster aggregation), so one scrape sees the server.
 * - The statistics extension (/v2/models/stats, gRPC ModelStatistics): every process's
 *   figures for the query, summed by the answering one.
 * - Repository changes (load, unload, reload): the process the admin request reached applies
 *   it, then has every other process apply it, and answers once all have. Registry changes
 *   (aliases, deployments) need nothing here: the processes share the registry (its SQLite
 *   file, polled every 0.5 s, or PostgreSQL).
 */

/** A repository change every serving process applies. */
export type RepositoryOp = { kind: 'load'; model: string } | { kind: 'unload'; model: string } | { kind: 'reload' };

/** The models and version a statistics request names (as the routes take them). */
export interface StatsQuery {
  model?: string;
  version?: number | string;
}

/** What a gather collects from every process: its metrics (prom-client JSON) or its statistics for a query. */
export type Collect = { what: 'metrics' } | { what: 'stats'; query: StatsQuery };

/** Messages between the supervisor and a serving process (both directions). */
export type PeerMessage =
  | { t: 'join'; id: number }
  | { t: 'joined'; id: number; ops: RepositoryOp[] }
  | { t: 'gather'; id: number; collect: Collect }
  /** The answer to a gather: metrics already aggregated into the text format, statistics as each process's value. */
  | { t: 'gathered'; id: number; text?: string; values?: unknown[] }
  | { t: 'collect'; id: number; collect: Collect }
  | { t: 'collected'; id: number; value: unknown }
  | { t: 'broadcast'; id: number; op: RepositoryOp }
  | { t: 'broadcast-done'; id: number; errors: string[] }
  | { t: 'apply'; id: number; op: RepositoryOp }
  | { t: 'applied'; id: number; error?: string };

/** What this process does when the supervisor asks (set by the server). */
export interface PeerHandlers {
  /** This process's metrics as prom-client JSON (registry.getMetricsAsJSON()), or its statistics for a query. */
  collect(c: Collect): Promise<unknown>;
  /** Applies a repository change another process received. */
  apply(op: RepositoryOp): Promise<void>;
}

/** The supervisor's answer took longer than this (longer than its own waits, src/cli/process-supervisor.ts): the request fails. */
const ANSWER_TIMEOUT_MS = 180_000;

/** This serving process's place in the group, from the environment the supervisor set. */
export interface ProcessPlace {
  index: number;
  count: number;
}

/**
 * The place the supervisor gave this process (INFERA_PROCESS_INDEX / INFERA_PROCESS_COUNT),
 * or null when it runs alone. Read once, by the serve command.
 */
export function processPlaceFromEnv(env: NodeJS.ProcessEnv = process.env): ProcessPlace | null {
  const index = Number(env.INFERA_PROCESS_INDEX);
  const count = Number(env.INFERA_PROCESS_COUNT);
  if (!Number.isInteger(index) || !Number.isInteger(count) || count < 2 || index < 0 || index >= count) return null;
  return { index, count };
}

type Channel = Pick<NodeJS.Process, 'on' | 'off'> & { send?: (m: PeerMessage) => boolean };

export class ProcessPeers {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: PeerMessage) => void; timer: NodeJS.Timeout }>();
  private handlers: PeerHandlers | null = null;
  private readonly onMessage = (m: PeerMessage) => this.received(m);

  constructor(readonly place: ProcessPlace, private readonly channel: Channel = process as Channel) {
    if (!channel.send) throw new Error('a serving process of a group needs the IPC channel of its supervisor');
    channel.on('message', this.onMessage);
  }

  /** The first process is the one that runs what must run once (automatic promotion and rollback without a shared database). */
  get first(): boolean {
    return this.place.index === 0;
  }

  serve(handlers: PeerHandlers): void {
    this.handlers = handlers;
  }

  /**
   * Joins the group once this process loaded the repository from disk: from now on it takes
   * part in gathers.
   * @returns the repository changes made through the API that it must apply before it is
   *   ready (a restarted process loaded what is on disk, models unloaded since included).
   */
  async join(): Promise<RepositoryOp[]> {
    const m = await this.ask({ t: 'join', id: this.nextId++ });
    if (m.t !== 'joined') throw new Error(`unexpected answer '${m.t}' from the supervisor`);
    return m.ops;
  }

  /** Every process's metrics, aggregated, in the Prometheus text format. */
  async metrics(): Promise<string> {
    const m = await this.ask({ t: 'gather', id: this.nextId++, collect: { what: 'metrics' } });
    if (m.t !== 'gathered' || m.text === undefined) throw new Error(`unexpected answer '${m.t}' from the supervisor`);
    return m.text;
  }

  /** Every process's statistics for a query (this one's included), one value per process. */
  async stats(query: StatsQuery): Promise<unknown[]> {
    const m = await this.ask({ t: 'gather', id: this.nextId++, collect: { what: 'stats', query } });
    if (m.t !== 'gathered' || m.values === undefined) throw new Error(`unexpected answer '${m.t}' from the supervisor`);
    return m.values;
  }

  /**
   * Has every other process apply a repository change this one applied.
   * @returns the other processes' failures (empty when all applied it).
   */
  async broadcast(op: RepositoryOp): Promise<string[]> {
    const m = await this.ask({ t: 'broadcast', id: this.nextId++, op });
    if (m.t !== 'broadcast-done') throw new Error(`unexpected answer '${m.t}' from the supervisor`);
    return m.errors;
  }

  close(): void {
    this.channel.off('message', this.onMessage);
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
  }

  private ask(m: PeerMessage & { id: number }): Promise<PeerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(m.id);
        reject(new Error(`the process supervisor did not answer '${m.t}' within ${ANSWER_TIMEOUT_MS / 1000} s`));
      }, ANSWER_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(m.id, { resolve, timer });
      this.send(m);
    });
  }

  private send(m: PeerMessage): void {
    this.channel.send?.(m);
  }

  private received(m: PeerMessage): void {
    if (m.t === 'collect') {
      const h = this.handlers;
      void (h ? h.collect(m.collect) : Promise.resolve([])).then(
        (value) => this.send({ t: 'collected', id: m.id, value }),
        () => this.send({ t: 'collected', id: m.id, value: [] }),
      );
    } else if (m.t === 'apply') {
      const h = this.handlers;
      void (h ? h.apply(m.op) : Promise.reject(new Error('this process is still starting'))).then(
        () => this.send({ t: 'applied', id: m.id }),
        (e: Error) => this.send({ t: 'applied', id: m.id, error: `process ${this.place.index}: ${e.message}` }),
      );
    } else if (m.t === 'gathered' || m.t === 'broadcast-done' || m.t === 'joined') {
      const w = this.waiting.get(m.id);
      if (!w) return;
      clearTimeout(w.timer);
      this.waiting.delete(m.id);
      w.resolve(m);
    }
  }
}
