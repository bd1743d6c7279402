/**
 * `infera serve --processes N`: N serving processes on one port (SO_REUSEPORT: the kernel
 * spreads connections over them), each with its own event loop, started, restarted and stopped
 * here. This process serves nothing; it relays what the serving processes exchange
 * (src/server/process-peers.ts): the aggregated /metrics, the statistics, repository changes.
 *
 * The processes are Node cluster workers: HTTP and WebSocket listen through uWS, which sets
 * SO_REUSEPORT itself, but the gRPC port is a Node server, and Node 20 cannot share a port
 * between processes except through the cluster module (this process then holds the gRPC
 * listening socket and hands each connection to a worker).
 *
 * Measured reason (bench/README.md, "Cores: one event loop, or one per core"): one process
 * stops scaling at two to four cores, because its one event loop does HTTP, JSON, the feature
 * transform and monitoring for every request; one process per core scaled to 9.3-9.5x one
 * core on 16.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Collect, PeerMessage, RepositoryOp } from '../server/process-peers';

export interface SupervisorOptions {
  count: number;
  /** The script and arguments each serving process runs (the same `infera serve` command line). */
  script: string;
  args: string[];
  execArgv: string[];
  env: NodeJS.ProcessEnv;
  log: (msg: string) => void;
}

/** A process that exits this many times within RESTART_WINDOW_MS is not restarted again: the group stops. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/**
 * How long a gather waits for the processes' answers (metrics: a scrape must not hang; a
 * repository change: loading a model validates it in a sandbox first); a silent process is
 * left out of the answer, and named in a change's errors.
 */
const GATHER_TIMEOUT_MS = { collect: 5_000, apply: 120_000 };

interface Member {
  index: number;
  child: Worker;
  joined: boolean;
}

interface Gather {
  finished: boolean;
  want: Set<number>;
  answers: unknown[];
  errors: string[];
  timer: NodeJS.Timeout;
  done: () => void;
}

export class ProcessSupervisor {
  private readonly members: (Member | null)[];
  private readonly restarts: number[] = [];
  private stopping = false;
  private exitCode = 0;
  /** Models unloaded through the API: a restarted process (which loads what is on disk) unloads them too. */
  private readonly unloaded = new Set<string>();
  private readonly gathers = new Map<number, Gather>();
  private nextGather = 1;

  constructor(private readonly opts: SupervisorOptions) {
    this.members = new Array(opts.count).fill(null);
  }

  start(): void {
    cluster.setupPrimary({ exec: this.opts.script, args: this.opts.args, execArgv: this.opts.execArgv, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    for (let i = 0; i < this.opts.count; i++) this.spawn(i);
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => this.stop(sig));
  }

  private spawn(index: number): void {
    const child = cluster.fork({ ...this.opts.env, INFERA_PROCESS_INDEX: String(index), INFERA_PROCESS_COUNT: String(this.opts.count) });
    const member: Member = { index, child, joined: false };
    this.members[index] = member;
    child.on('message', (m: PeerMessage) => this.received(member, m));
    child.on('error', (e) => this.opts.log(`serving process ${index}: ${e.message}`));
    child.on('exit', (code, signal) => this.exited(member, code, (signal as NodeJS.Signals | null) ?? null));
  }

  private exited(member: Member, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.members[member.index] === member) this.members[member.index] = null;
    for (const g of this.gathers.values()) if (g.want.delete(member.index) && g.want.size === 0) g.done();
    if (this.stopping) {
      if (code !== 0 && code !== null) this.exitCode = Math.max(this.exitCode, code);
      if (this.members.every((m) => m === null)) process.exit(this.exitCode);
      return;
    }
    const now = Date.now();
    this.restarts.push(now);
    while (this.restarts.length > 0 && this.restarts[0] < now - RESTART_WINDOW_MS) this.restarts.shift();
    const why = signal ? `signal ${signal}` : `code ${code}`;
    if (this.restarts.length > MAX_RESTARTS) {
      this.opts.log(`serving process ${member.index} exited (${why}); ${this.restarts.length} exits within ${RESTART_WINDOW_MS / 1000} s: stopping the server`);
      this.exitCode = 1;
      this.stop('SIGTERM');
      return;
    }
    this.opts.log(`serving process ${member.index} exited (${why}); starting it again`);
    this.spawn(member.index);
  }

  private stop(signal: NodeJS.Signals): void {
    this.stopping = true;
    const live = this.members.filter((m): m is Member => m !== null);
    if (live.length === 0) process.exit(this.exitCode);
    for (const m of live) m.child.process.kill(signal);
  }

  private received(from: Member, m: PeerMessage): void {
    switch (m.t) {
      case 'join':
        from.joined = true;
        this.send(from, { t: 'joined', id: m.id, ops: [...this.unloaded].map((model) => ({ kind: 'unload', model })) });
        return;
      case 'gather':
        this.gather(from, m.id, { collect: m.collect });
        return;
      case 'broadcast':
        this.remember(m.op);
        this.gather(from, m.id, { op: m.op });
        return;
      case 'collected':
      case 'applied': {
        const g = this.gathers.get(m.id);
        if (!g || !g.want.delete(from.index)) return;
        if (m.t === 'collected') g.answers.push(m.value);
        else if (m.error) g.errors.push(m.error);
        if (g.want.size === 0) g.done();
        return;
      }
      default:
    }
  }

  private remember(op: RepositoryOp): void {
    if (op.kind === 'unload') this.unloaded.add(op.model);
    else if (op.kind === 'load') this.unloaded.delete(op.model);
    else this.unloaded.clear();
  }

  /**
   * Asks the processes that joined (for 'apply': all but the asking one, which applied it
   * already) and answers the asking one when all did or GATHER_TIMEOUT_MS passed.
   */
  private gather(from: Member, replyId: number, what: { collect: Collect } | { op: RepositoryOp }): void {
    const id = this.nextGather++;
    const kind = 'op' in what ? 'apply' : 'collect';
    const targets = this.members.filter((m): m is Member => m !== null && m.joined && (kind === 'collect' || m !== from));
    const g: Gather = {
      finished: false, want: new Set(targets.map((m) => m.index)), answers: [], errors: [],
      timer: setTimeout(() => {
        for (const i of g.want) g.errors.push(`process ${i} did not answer within ${GATHER_TIMEOUT_MS[kind] / 1000} s`);
        g.done();
      }, GATHER_TIMEOUT_MS[kind]),
      done: () => {
        if (g.finished) return;
        g.finished = true;
        clearTimeout(g.timer);
        this.gathers.delete(id);
        if ('op' in what) this.send(from, { t: 'broadcast-done', id: replyId, errors: g.errors });
        else if (what.collect.what === 'stats') this.send(from, { t: 'gathered', id: replyId, values: g.answers });
        else void this.aggregate(g.answers).then((text) => this.send(from, { t: 'gathered', id: replyId, text }));
      },
    };
    this.gathers.set(id, g);
    if (targets.length === 0) return g.done();
    for (const m of targets) this.send(m, 'op' in what ? { t: 'apply', id, op: what.op } : { t: 'collect', id, collect: what.collect });
  }

  private async aggregate(answers: unknown[]): Promise<string> {
    // prom-client sums counters, histograms and gauges without an `aggregator` of their own.
    return AggregatorRegistry.aggregate(answers as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  }

  private send(to: Member, m: PeerMessage): void {
    if (to.child.isConnected()) to.child.send(m);
  }
}
