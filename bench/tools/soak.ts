/**
 * Soak: a mixed load against a live `infera serve` for a set time, sampling the server's
 * resident memory and V8 heap, to show whether anything grows.
 *
 *   node dist/bench/tools/soak.js --seconds 600 [--out bench/results/soak] [--reload-every 5 (s; 0 = none)]
 *        [--skip malformed,aborted,streams]
 *
 * Load, in parallel loops: valid OIP infer of real speech chunks and /predict of a real
 * flight; damaged requests (bench/tools/http-mutation-fuzz.ts mutations); aborted requests
 * (half a body, then the socket is destroyed); WebSocket streams of real speech (PCM16 at
 * 16 kHz, sent as fast as accepted, then `end`); and a reload of the VAD model every 5 s
 * (`--reload-every`).
 * Writes result.json (samples, counts) and rss.svg (RSS and heap over time) to --out, and
 * prints a one-line summary. Exits 1 when the server dies or a valid request fails.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chunks, readWav } from '../../src/audio/wav';
import { servingFlags } from '../../src/cli/serving-runtime';
import { freePort } from '../lib/server';
import { lineChart } from '../lib/svg';
import { baseRequests, mutate } from './http-mutation-fuzz';
import { toolArg } from '../lib/cli';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocket = require('ws') as new (url: string) => { on(ev: string, f: (...a: unknown[]) => void): void; send(d: unknown): void; close(): void };

const ROOT = path.resolve(__dirname, '../../..');


function exchange(port: number, bytes: Buffer, abortAfter?: number, timeoutMs = 10_000): Promise<number | null> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (v: number | null) => {
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    s.on('connect', () => {
      if (abortAfter === undefined) return void s.write(bytes);
      s.write(bytes.subarray(0, abortAfter));
      setTimeout(() => {
        clearTimeout(timer);
        done(0);
      }, 5);
    });
    s.on('data', (d) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m && got.includes('\r\n\r\n')) {
        clearTimeout(timer);
        done(Number(m[1]));
      }
    });
    s.on('close', () => done(null));
    s.on('error', () => done(null));
  });
}

function residentMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function heapMb(port: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = /^nodejs_heap_size_used_bytes (\S+)/m.exec(text);
    return m ? Number(m[1]) / 1048576 : NaN;
  } catch {
    return NaN;
  }
}

async function main(): Promise<number> {
  const seconds = Number(toolArg('seconds') ?? 60);
  const out = path.resolve(toolArg('out') ?? path.join(ROOT, 'bench/results/soak'));
  const port = await freePort();
  // The serving flags on the command line: this pid is the server itself (no re-launch).
  const server = spawn(process.execPath, [...servingFlags(), path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'error'], { stdio: 'ignore' });
  let died: string | null = null;
  server.on('exit', (code, signal) => (died = String(signal ?? code)));
  for (let i = 0; i < 300 && (await exchange(port, Buffer.from('GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n'))) !== 200; i++) await new Promise((r) => setTimeout(r, 100));

  const bases = baseRequests();
  const speech = readWav('/usr/share/sounds/linphone/hello16000.wav');
  const pcm = Buffer.alloc(speech.samples.length * 2);
  speech.samples.forEach((v, i) => pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32768))), i * 2));
  const counts = new Map<string, number>();
  const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  let validFailures = 0;
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  let seed = 12345;
  const r = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

  const loops: Promise<void>[] = [];
  const loop = (f: () => Promise<void>) => loops.push((async () => { while (Date.now() < end && died === null) await f(); })());
  for (let k = 0; k < 4; k++) {
    loop(async () => {
      const s = await exchange(port, bases[k % 2]);
      count(`valid ${s ?? 'no answer'}`);
      if (s !== 200) validFailures++;
    });
  }
  // --skip malformed,aborted,streams: leave loads out, to find which one a growth follows.
  const skip = new Set((toolArg('skip') ?? '').split(',').filter(Boolean));
  if (!skip.has('malformed')) loop(async () => {
    count(`malformed ${(await exchange(port, mutate(bases[Math.floor(r() * bases.length)], r), undefined, 500)) ?? 'no answer in 0.5 s'}`);
  });
  if (!skip.has('aborted')) loop(async () => {
    count(`aborted ${await exchange(port, bases[0], Math.floor(bases[0].length / 2))}`);
  });
  if (!skip.has('streams')) loop(async () => {
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v2/models/vad/stream?format=pcm16&rate=16000`);
      let results = 0;
      ws.on('open', () => {
        for (let at = 0; at < pcm.length; at += 3072) ws.send(pcm.subarray(at, at + 3072));
        ws.send(JSON.stringify({ type: 'end' }));
      });
      ws.on('message', (m) => {
        const msg = JSON.parse(String(m)) as { type: string };
        if (msg.type === 'result') results++;
        if (msg.type === 'end') ws.close();
      });
      ws.on('close', () => {
        count(results > 0 ? 'stream ok' : 'stream empty');
        resolve();
      });
      ws.on('error', () => undefined);
    });
  });
  const reloadEveryS = Number(toolArg('reload-every') ?? 5);
  if (reloadEveryS > 0) loop(async () => {
    await new Promise((res) => setTimeout(res, reloadEveryS * 1000));
    count(`reload ${await exchange(port, Buffer.from('POST /v2/repository/models/vad/load HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'))}`);
  });

  const samples: { t: number; rssMb: number; heapMb: number }[] = [];
  const sampler = (async () => {
    while (Date.now() < end && died === null) {
      samples.push({ t: (Date.now() - started) / 1000, rssMb: residentMb(server.pid!), heapMb: await heapMb(port) });
      await new Promise((res) => setTimeout(res, Math.max(1000, (seconds * 1000) / 120)));
    }
  })();
  await Promise.all([...loops, sampler]);
  await new Promise((res) => setTimeout(res, 3000));
  const idle = { t: (Date.now() - started) / 1000, rssMb: died === null ? residentMb(server.pid!) : NaN, heapMb: await heapMb(port) };
  server.kill('SIGTERM');

  const first = samples.find((s) => s.t >= Math.min(10, seconds / 4)) ?? samples[0];
  const result = {
    seconds, died, valid_failures: validFailures, counts: Object.fromEntries([...counts].sort()),
    rss_mb: { after_warmup: first?.rssMb, max: Math.max(...samples.map((s) => s.rssMb)), last: samples[samples.length - 1]?.rssMb, idle_3s: idle.rssMb },
    heap_mb: { after_warmup: first?.heapMb, max: Math.max(...samples.map((s) => s.heapMb)), idle_3s: idle.heapMb },
    samples,
  };
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify(result, null, 1));
  fs.writeFileSync(path.join(out, 'rss.svg'), lineChart({
    title: `infera serve under a mixed soak load (${seconds} s)`, xLabel: 'seconds', yLabel: 'MiB',
    series: [{ name: 'RSS', points: samples.map((s) => [s.t, s.rssMb]) }, { name: 'V8 heap used', points: samples.map((s) => [s.t, s.heapMb]) }],
  }));
  const { samples: _s, ...summary } = result;
  console.log(JSON.stringify(summary));
  return died !== null || validFailures > 0 ? 1 : 0;
}

main().then((c) => process.exit(c), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
