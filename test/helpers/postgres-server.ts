/**
 * A real, throwaway PostgreSQL server for the replica tests (Debian package `postgresql`,
 * installed by scripts/test-prerequisites.sh): initdb into a temporary folder, listen on a free
 * loopback port, trust authentication. As root, the server runs as the `postgres` user (it
 * refuses to run as root). stop() and start() again keep the data: the outage tests use them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../bench/lib/server';

const BIN_ROOT = '/usr/lib/postgresql';

function pgBin(name: string): string {
  const versions = fs.existsSync(BIN_ROOT) ? fs.readdirSync(BIN_ROOT).filter((v) => fs.existsSync(path.join(BIN_ROOT, v, 'bin', name))) : [];
  if (versions.length === 0) throw new Error(`PostgreSQL's ${name} is missing: install the Debian package 'postgresql' (bash scripts/test-prerequisites.sh)`);
  versions.sort((a, b) => Number(b) - Number(a));
  return path.join(BIN_ROOT, versions[0], 'bin', name);
}


export class PostgresServer {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** initdb + start; the caller stops it (t.after). */
  static async start(): Promise<PostgresServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-pg-'));
    fs.chmodSync(dir, 0o755);
    const pg = new PostgresServer(dir, await freePort());
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    pg.run(pgBin('initdb'), ['-D', pg.dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    pg.start();
    return pg;
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  private run(bin: string, args: string[]): void {
    const asRoot = process.getuid?.() === 0;
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
    execFileSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], cwd: this.dir, timeout: 60_000 });
  }

  /**
   * Starts (or restarts) the server and waits until it accepts connections. fsync off (a
   * throwaway server), but commits stay synchronous: stop() is an immediate shutdown, and an
   * asynchronous commit acknowledged before it would be lost, which the outage test would see.
   */
  start(): void {
    const opts = `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='${this.dir}' -c fsync=off -c full_page_writes=off`;
    this.run(pgBin('pg_ctl'), ['-D', this.dataDir, '-o', opts, '-l', path.join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
  }

  /** Stops the server at once (connections are cut); the data stays for start(). */
  stop(): void {
    this.run(pgBin('pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
  }

  /** Stops the server if it runs and removes its files. */
  destroy(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
