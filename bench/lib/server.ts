/** Spawns a server under test, waits for its readiness URL, stops it. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';

export interface HttpReply {
  status: number;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
}

/** One-shot HTTP request on a fresh connection (JSON content type unless `extra` says otherwise). */
export function httpRequest(url: string, method: string, body?: string | Buffer, timeoutMs = 5000, extra: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    Object.assign(headers, extra);
    const req = http.request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerSpec {
  name: string;
  /** argv[0] and the rest (pinning prefix already applied). */
  argv: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  readyUrl: string;
  readyTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      process.exit(130);
    });
  }
}

export class ServerProcess {
  private readonly tail: string[] = [];
  private tailBytes = 0;
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exitPromise: Promise<void>;

  constructor(readonly spec: ServerSpec, readonly child: ChildProcess) {
    const keep = (d: Buffer) => {
      const s = d.toString('utf8');
      this.tail.push(s);
      this.tailBytes += s.length;
      while (this.tailBytes > 8192 && this.tail.length > 1) this.tailBytes -= this.tail.shift()!.length;
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        live.delete(child);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exitInfo(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.exited;
  }

  logTail(): string {
    return this.tail.join('').slice(-4096);
  }

  async waitReady(): Promise<void> {
    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 30000);
    let last = '';
    while (Date.now() < deadline) {
      if (this.exited) {
        throw new Error(`${this.spec.name} exited before ready (code ${this.exited.code}, signal ${this.exited.signal})`);
      }
      try {
        const r = await httpRequest(this.spec.readyUrl, 'GET', undefined, 1000);
        if (r.status === 200) return;
        last = `status ${r.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.spec.name} not ready at ${this.spec.readyUrl} after ${this.spec.readyTimeoutMs ?? 30000} ms (${last})`);
  }

  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([this.exitPromise.then(() => 'exited' as const), timer])) === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exitPromise;
    }
  }
}

/** Spawns the server and resolves once its readiness URL answers 200 (stops it and rethrows on failure). */
export async function launchServer(spec: ServerSpec): Promise<ServerProcess> {
  installExitHook();
  const [cmd, ...args] = spec.argv;
  const child = spawn(cmd, args, { cwd: spec.cwd, env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const server = new ServerProcess(spec, child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (e) => reject(new Error(`cannot spawn ${cmd}: ${e.message}`)));
  });
  try {
    await server.waitReady();
  } catch (e) {
    await server.stop(1000);
    const err = e as Error & { logTail?: string };
    err.logTail = server.logTail();
    throw err;
  }
  return server;
}
