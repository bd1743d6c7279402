/**
 * A throwaway redis-server for the shared-cache tests: its own port on 127.0.0.1, no
 * persistence, a scratch directory; killed (and the directory removed) when the test ends.
 * redis-server comes from the Debian package redis-server (scripts/test-prerequisites.sh).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../bench/lib/server';

export interface RedisServer {
  port: number;
  url: string;
  /** SIGKILL: the store vanishes at once, as a crashed host's would. */
  kill(): Promise<void>;
  /** A fresh, empty redis-server on the same port. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a store that accepts connections and answers nothing. */
  pause(): void;
  resume(): void;
}


/** True once the server answers PING with PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (ok: boolean) => {
      c.destroy();
      resolve(ok);
    };
    c.setTimeout(500, () => done(false));
    c.on('error', () => done(false));
    c.on('connect', () => c.write('PING\r\n'));
    c.on('data', (d) => {
      text += d.toString();
      if (text.includes('\r\n')) done(text.startsWith('+PONG'));
    });
  });
}

/**
 * Starts redis-server on a free port and waits for PING; `t.after` kills it.
 * @throws Error naming the Debian package when redis-server is not installed.
 */
export async function startRedis(t: { after(fn: () => unknown): void }): Promise<RedisServer> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error("redis-server is not installed: the shared-cache tests start a throwaway one. Install the Debian package 'redis-server' (scripts/test-prerequisites.sh)");
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  let stderr = '';
  // Resolves to a holder: an async function returning the exit promise itself would wait for the exit.
  const launch = async (): Promise<{ exited: Promise<void> }> => {
    stderr = '';
    const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.on('data', (d) => (stderr += d));
    child = p;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (p.exitCode !== null || Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer PING: ${stderr.trim() || `exit ${p.exitCode}`}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return { exited };
  };
  let { exited } = await launch();
  const kill = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    child = null;
  };
  t.after(async () => {
    await kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: async () => {
      await kill();
      ({ exited } = await launch());
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  };
}
