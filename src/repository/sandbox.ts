import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ModelMetadata } from '../runtime/backend';

/**
 * Opens a new model version in a disposable child process (validate-child.ts) with a time
 * and a memory cap, before any serving worker may open it: a file that crashes, hangs or
 * exhausts memory in onnxruntime fails its own version with a reason, never the server
 * (a native abort inside a worker thread ends the whole process).
 */
export interface SandboxOptions {
  /** Longest load + warm run (default 60 s). */
  timeoutMs: number;
  /** Largest resident memory of the child, MiB (default 4096), checked every 50 ms. */
  memoryMb: number;
  /** Test switch: make the child abort, hang or allocate without end. */
  testFailure?: 'abort' | 'hang' | 'allocate';
}

export const DEFAULT_SANDBOX: SandboxOptions = { timeoutMs: 60_000, memoryMb: 4096 };

export interface SandboxResult {
  metadata: ModelMetadata;
  /** 'ok', or why onnxruntime refused a warm run on zeros (not a failure). */
  warm: string;
}

function residentMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * @returns the model's inputs and outputs as onnxruntime reads them.
 * @throws Error naming what happened: crashed (signal), timed out, used more than the cap, or
 *   the loader's own message.
 */
export function validateInSandbox(modelPath: string, intraOpThreads: number, opts: SandboxOptions = DEFAULT_SANDBOX): Promise<SandboxResult> {
  const args = [path.join(__dirname, 'validate-child.js'), modelPath, String(intraOpThreads)];
  if (opts.testFailure) args.push('--test-failure', opts.testFailure);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killedFor: string | null = null;
    const kill = (why: string) => {
      if (killedFor) return;
      killedFor = why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs);
    const watch = setInterval(() => {
      const mb = residentMb(child.pid ?? 0);
      if (mb > opts.memoryMb) kill(`used ${Math.round(mb)} MiB, more than its ${opts.memoryMb} MiB`);
    }, 50);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    child.on('error', (e) => {
      clearTimeout(timer);
      clearInterval(watch);
      reject(new Error(`validation process could not start: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(watch);
      const file = path.basename(path.dirname(modelPath)) + '/' + path.basename(modelPath);
      if (killedFor) return reject(new Error(`validating ${file} in a sandbox: ${killedFor}`));
      if (signal) return reject(new Error(`validating ${file} in a sandbox: onnxruntime crashed (${signal})`));
      if (code !== 0) return reject(new Error(`validating ${file} in a sandbox: ${stderr.trim().split('\n').slice(-1)[0] || `exit ${code}`}`));
      try {
        const r = JSON.parse(stdout.trim().split('\n').slice(-1)[0]) as ModelMetadata & { warm: string };
        resolve({ metadata: { inputs: r.inputs, outputs: r.outputs }, warm: r.warm });
      } catch {
        reject(new Error(`validating ${file} in a sandbox: unreadable answer`));
      }
    });
  });
}
