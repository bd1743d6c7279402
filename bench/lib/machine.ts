/** Facts about the machine and software a result was measured on. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MachineFacts } from './types';

export const REPORTED_PACKAGES = ['onnxruntime-node', 'uWebSockets.js', 'fastify', 'autocannon', 'hdr-histogram-js'];

/** Walks up from `start` to the directory holding the project's package.json. */
export function findRepoRoot(start: string = __dirname): string {
  let dir = path.resolve(start);
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name;
        if (name === 'infera') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no infera package.json above ${start}`);
    dir = up;
  }
}

/** Version from node_modules/<name>/package.json (read directly: some packages block the subpath in "exports"). */
export function packageVersion(repoRoot: string, name: string): string | null {
  try {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as {
      name?: string;
      version?: string;
    };
    if (!pkg.version) return null;
    return pkg.name && pkg.name !== name ? `${pkg.name}@${pkg.version}` : pkg.version;
  } catch {
    return null;
  }
}

function git(repoRoot: string, args: string[]): string | null {
  const r = spawnSync('git', args, { cwd: repoRoot, encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function collectMachineFacts(repoRoot: string): MachineFacts {
  const cpus = os.cpus();
  const packages: Record<string, string | null> = {};
  for (const p of REPORTED_PACKAGES) packages[p] = packageVersion(repoRoot, p);
  const commit = git(repoRoot, ['rev-parse', 'HEAD']);
  const status = git(repoRoot, ['status', '--porcelain']);
  return {
    loadAvg1m: Math.round(os.loadavg()[0] * 100) / 100,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: process.platform,
    arch: process.arch,
    kernel: os.release(),
    node: process.version,
    packages,
    git: { commit, dirty: status === null ? null : status.length > 0 },
    hostname: os.hostname(),
  };
}
