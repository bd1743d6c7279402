/**
 * Issue 11's memory goals, on a real `infera serve` process (its own RSS, from /proc):
 *   - 10,000 damaged requests and 2,000 aborted ones leave the resident set within 32 MiB of
 *     where it was after warm-up;
 *   - two ~60 MiB inputs: once the server is idle again, within 64 MiB of before them.
 * The damaged requests are the HTTP mutation fuzzer's (bench/tools/http-mutation-fuzz.ts) of
 * real requests; memory is not time, so these are asserted here (rule 4 is about timings).
 *
 * Every figure is taken after a full garbage collection forced through the server's inspector:
 * an idle Node process does not collect by itself, so without it a figure depends on where the
 * last collection happened to fall (measured: up to 35 MiB of dead request buffers still counted
 * as external memory, 41 MiB "growth" on one CI run, while heap snapshots before and after four
 * rounds of this load differed by 0.5 MiB of compiled code).
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { baseRequests, mutate } from '../../bench/tools/http-mutation-fuzz';
import { servingFlags } from '../../src/cli/serving-runtime';
import { freePort } from '../../bench/lib/server';
import { collectGarbage, inspectorUrl } from '../helpers/inspector';
import { ROOT } from '../helpers/server';

const MiB = 1024 * 1024;

/** Sends bytes on a fresh connection; resolves with the status (null: none), or 0 once aborted. */
function exchange(port: number, bytes: Buffer, abortAfter?: number, timeoutMs = 5_000): Promise<number | null> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    let settled = false;
    const done = (v: number | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    s.on('connect', () => {
      if (abortAfter === undefined) return void s.write(bytes);
      s.write(bytes.subarray(0, abortAfter), () => done(0));
    });
    s.on('data', (d) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m && got.includes('\r\n\r\n')) done(Number(m[1]));
    });
    s.on('close', () => done(null));
    s.on('error', () => done(null));
  });
}

function residentBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmRSS');
  return Number(m[1]) * 1024;
}

async function pool(n: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await job(next++);
  }));
}

const settle = () => new Promise((r) => setTimeout(r, 1_500));

/** The server's resident set once idle and collected: what it retains. */
async function retainedBytes(pid: number, inspector: string): Promise<number> {
  await settle();
  await collectGarbage(inspector);
  await new Promise((r) => setTimeout(r, 500));
  return residentBytes(pid);
}

describe('memory stays bounded under damaged, aborted and huge requests', () => {
  let server: ChildProcess;
  let port: number;
  let inspector: string;
  const bases = baseRequests();
  let seed = 20261203;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  // A damaged request the server waits on (a body shorter than its Content-Length) is left after
  // 200 ms: the socket closes, which is one more aborted request.
  const damaged = async () => void (await exchange(port, mutate(bases[Math.floor(random() * bases.length)], random), undefined, 200));
  const aborted = async () => void (await exchange(port, bases[0], Math.floor(bases[0].length / 2)));

  before(async () => {
    port = await freePort();
    // The serving V8 flags on the command line, so this pid is the server itself (no re-launch).
    server = spawn(process.execPath, [...servingFlags(), '--inspect=127.0.0.1:0', path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'fatal', '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    inspector = await inspectorUrl(server);
    for (let i = 0; i < 300 && (await exchange(port, Buffer.from('GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n'))) !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    // Warm-up: every path the runs below take, so code and caches are in place before measuring.
    await pool(1_000, 32, damaged);
    await pool(300, 32, aborted);
    for (let i = 0; i < 50; i++) assert.equal(await exchange(port, bases[i % 2]), 200);
  });

  after(() => {
    server?.kill('SIGKILL');
  });

  it('BAD CALL - 10,000 damaged + 2,000 aborted requests: RSS within 32 MiB, the server alive', async (t) => {
    const start = await retainedBytes(server.pid!, inspector);
    await pool(10_000, 32, damaged);
    await pool(2_000, 32, aborted);
    assert.equal(server.exitCode, null, 'the server is alive');
    assert.equal(await exchange(port, bases[0]), 200, 'and serves');
    const grown = (await retainedBytes(server.pid!, inspector)) - start;
    t.diagnostic(`RSS ${(start / MiB).toFixed(1)} → ${((start + grown) / MiB).toFixed(1)} MiB`);
    assert.ok(grown <= 32 * MiB, `RSS grew ${(grown / MiB).toFixed(1)} MiB (start ${(start / MiB).toFixed(0)} MiB)`);
  });

  it('BAD CALL - two ~60 MiB inputs: refused with a code, RSS back within 64 MiB once idle', async (t) => {
    const start = await retainedBytes(server.pid!, inspector);
    // A binary OIP body of 60 MiB for a VAD input whose shape the model refuses: read whole, then a 400.
    const elements = (60 * MiB) / 4;
    const header = JSON.stringify({ inputs: [{ name: 'input', shape: [1, elements], datatype: 'FP32', parameters: { binary_data_size: elements * 4 } }] });
    const body = Buffer.concat([Buffer.from(header), Buffer.alloc(elements * 4, 0x3c)]);
    const head = Buffer.from(`POST /v2/models/vad/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nInference-Header-Content-Length: ${Buffer.byteLength(header)}\r\nContent-Length: ${body.length}\r\n\r\n`);
    const request = Buffer.concat([head, body]);
    for (let i = 0; i < 2; i++) {
      const status = await exchange(port, request, undefined, 30_000);
      assert.ok(status !== null && status >= 400 && status < 500, `a 4xx, got ${status}`);
      t.diagnostic(`huge input ${i + 1}: ${status}, RSS ${(residentBytes(server.pid!) / MiB).toFixed(1)} MiB`);
    }
    const grown = (await retainedBytes(server.pid!, inspector)) - start;
    t.diagnostic(`RSS ${(start / MiB).toFixed(1)} → ${((start + grown) / MiB).toFixed(1)} MiB`);
    assert.ok(grown <= 64 * MiB, `RSS grew ${(grown / MiB).toFixed(1)} MiB after the huge inputs (start ${(start / MiB).toFixed(0)} MiB)`);
    assert.equal(await exchange(port, bases[1]), 200, 'still serves');
  });
});
