/**
 * HTTP-level mutation fuzzing of a live server: real requests (OIP v2 infer of a real speech
 * chunk, /predict of a real flight, GET routes) with random byte flips, insertions, deletions,
 * header and length damage,  sent over fresh sockets that the client half-closes after
 * waiting. Counts crashes (the server process exits), hangs (no answer within `--answer-ms`
 * and no close within `--hang-ms` of the client's FIN then), 5xx answers, and checks between batches that a valid
 * request still gets 200.
 *
 *   node dist/bench/tools/http-mutation-fuzz.js --count 100000 [--seed 1] [--concurrency 64] [--answer-ms 500] [--hang-ms 5000]
 *
 * Starts `infera serve` on a free port itself (the repository's models/), prints one JSON line.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { chunks, readWav } from '../../src/audio/wav';
import { freePort } from '../lib/server';
import { toolArg } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');

function arg(name: string, dflt: number): number {
  const v = toolArg(name);
  return v !== undefined ? Number(v) : dflt;
}

/** xorshift32: reproducible mutations from --seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function request(method: string, url: string, body = '', headers: Record<string, string> = {}): Buffer {
  const h = Object.entries({ Host: 'x', ...(body ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...headers });
  return Buffer.from(`${method} ${url} HTTP/1.1\r\n${h.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
}

export function baseRequests(): Buffer[] {
  const chunk = chunks(readWav('/usr/share/sounds/linphone/hello16000.wav').samples, 1536)[10];
  const infer = JSON.stringify({
    id: 'fuzz',
    inputs: [
      { name: 'input', shape: [1, 1536], datatype: 'FP32', data: Array.from(chunk) },
      { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
      { name: 'h', shape: [2, 1, 64], datatype: 'FP32', data: new Array(128).fill(0) },
      { name: 'c', shape: [2, 1, 64], datatype: 'FP32', data: new Array(128).fill(0) },
    ],
  });
  // A real February 2001 flight as a client sends it (ORD → LAX, 1,452 miles).
  const predict = JSON.stringify({ model: 'flights-delay', features: { date: '2001-02-03T14:05:00', distance: 1452, origin: 'ORD', destination: 'LAX' } });
  return [
    request('POST', '/v2/models/vad/infer', infer),
    request('POST', '/predict', predict),
    request('GET', '/v2/models/vad'),
    request('GET', '/v2/health/ready'),
    request('POST', '/v2/models/flights-delay/feedback', JSON.stringify({ id: 'x', label: 1 })),
  ];
}

export function mutate(base: Buffer, r: () => number): Buffer {
  const b = Buffer.from(base);
  const headEnd = b.indexOf('\r\n\r\n');
  const pick = r();
  const at = (inHead: boolean) => Math.floor(r() * (inHead && headEnd > 0 ? headEnd : b.length));
  if (pick < 0.3) {
    for (let k = 0; k < 1 + Math.floor(r() * 8); k++) b[at(r() < 0.5)] = Math.floor(r() * 256);
    return b;
  }
  if (pick < 0.45) {
    const i = at(r() < 0.5);
    return Buffer.concat([b.subarray(0, i), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 64) }, () => Math.floor(r() * 256))), b.subarray(i)]);
  }
  if (pick < 0.6) {
    const i = at(r() < 0.5);
    return Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + 1 + Math.floor(r() * 256)))]);
  }
  const text = b.toString('latin1');
  const lengths = ['-1', '0', '1', '99999999999999999999', '1e3', ' 5', '0x10', '', '4294967296'];
  const choices = [
    () => text.replace(/Content-Length: \d+/, `Content-Length: ${lengths[Math.floor(r() * lengths.length)]}`),
    () => text.replace('\r\n\r\n', `\r\n${'X-Pad: a\r\n'.repeat(1 + Math.floor(r() * 120))}\r\n`),
    () => text.replace('\r\n\r\n', `\r\nX-Long: ${'a'.repeat(Math.floor(r() * 70000))}\r\n\r\n`),
    () => text.replace(/^(\w+) (\S+)/, (_m, mth, url) => `${mth} ${url}${['%', '%E0%A4%A', '/..%2F..', '?a=%ZZ', '/%00', '#x'][Math.floor(r() * 6)]}`),
    () => text.replace('\r\n\r\n', `\r\nTransfer-Encoding: chunked\r\n\r\n`),
    () => text.replace(/^\w+/, ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'POSTX', ''][Math.floor(r() * 8)]),
    () => text.replace('HTTP/1.1', ['HTTP/1.0', 'HTTP/2.0', 'HTTP/9', ''][Math.floor(r() * 4)]),
    () => text.replace('\r\n\r\n', `\r\nContent-Encoding: gzip\r\nInference-Header-Content-Length: ${Math.floor(r() * 40000) - 10}\r\n\r\n`),
    () => text.slice(0, Math.floor(r() * text.length)),
    () => text.replace(/"(data|shape|datatype|name|features|inputs)"/, `"${['data', 'shape', 'datatype', 'name', 'features', 'inputs', ''][Math.floor(r() * 7)]}"`),
    () => text.replace(/\[1,1536\]|\[2,1,64\]|\[\]/, ['[1,16]', '[0,1536]', '[-1,1536]', '[1e9,1]', '[1,1536,1]', '[]', 'null'][Math.floor(r() * 7)]),
  ];
  return Buffer.from(choices[Math.floor(r() * choices.length)](), 'latin1');
}

interface Outcome {
  status: number | null;
  hung: boolean;
}

/**
 * Sends one request and waits for the answer's head. No answer within `answerMs` (a damaged
 * request may leave the server waiting for bytes that never come): the client half-closes;
 * a server that is not hung then closes within `hangMs`. uWS closes a connection whose
 * client half-closes, so the FIN is sent only after the wait (a valid asynchronous answer
 * would be lost otherwise).
 */
function send(port: number, bytes: Buffer, answerMs: number, hangMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    let done = false;
    let timer: NodeJS.Timeout;
    const finish = (hung: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : null, hung });
    };
    timer = setTimeout(() => {
      s.end();
      timer = setTimeout(() => finish(true), hangMs);
    }, answerMs);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (/\r\n\r\n/.test(got)) finish(false);
    });
    s.on('close', () => finish(false));
    s.on('error', () => finish(false));
  });
}

async function main(): Promise<void> {
  const count = arg('count', 2000);
  const concurrency = arg('concurrency', 64);
  const hangMs = arg('hang-ms', 5000);
  const answerMs = arg('answer-ms', 500);
  const r = rng(arg('seed', 1));
  const port = await freePort();
  const server = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'fatal'], { stdio: process.env.FUZZ_VERBOSE ? 'inherit' : 'ignore' });
  let exited: number | string | null = null;
  server.on('exit', (code, signal) => (exited = signal ?? code));
  for (let i = 0; i < 300; i++) {
    const ok = await send(port, request('GET', '/v2/health/ready'), 1000, 1000);
    if (ok.status === 200) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const bases = baseRequests();
  const statuses = new Map<string, number>();
  let hangs = 0;
  let sent = 0;
  let livenessFailures = 0;
  const started = Date.now();
  while (sent < count && exited === null) {
    const batch = Array.from({ length: Math.min(concurrency, count - sent) }, () => mutate(bases[Math.floor(r() * bases.length)], r));
    const outcomes = await Promise.all(batch.map((b) => send(port, b, answerMs, hangMs)));
    sent += batch.length;
    for (const o of outcomes) {
      if (o.hung) hangs++;
      const k = o.status === null ? 'closed' : `${Math.floor(o.status / 100)}xx`;
      statuses.set(k, (statuses.get(k) ?? 0) + 1);
    }
    if (sent % 500 < concurrency) {
      const live = await send(port, bases[0], 5000, hangMs);
      if (live.status !== 200) livenessFailures++;
    }
  }
  const finalCheck = exited === null ? (await send(port, bases[0], 5000, hangMs)).status : null;
  server.kill('SIGTERM');
  const result = {
    mutations: sent, seconds: Math.round((Date.now() - started) / 1000), crashed: exited !== null, exit: exited,
    hangs, liveness_failures: livenessFailures, final_valid_request: finalCheck, answers: Object.fromEntries([...statuses].sort()),
  };
  console.log(JSON.stringify(result));
  process.exit(result.crashed || hangs > 0 || livenessFailures > 0 || finalCheck !== 200 ? 1 : 0);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
