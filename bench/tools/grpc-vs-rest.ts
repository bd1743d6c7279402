/**
 * gRPC raw vs REST binary: what each transport costs per call on the same server.
 *
 *   node dist/bench/tools/grpc-vs-rest.js [--seconds 6] [--rounds 2] [--out bench/results/grpc] [--no-pin]
 *
 * One `infera serve --grpc-port` process (the vad model), pinned to one core; the load
 * generator, h2load (nghttp2's, in C: apt-get install nghttp2-client), on the other, the same
 * for both transports. Closed loop at 16 and 64 calls in flight:
 * - one-chunk VAD infer (1536 samples of real speech, zero state, output `output` only): REST
 *   with the binary tensor extension over HTTP/1.1 (one connection per call in flight) and gRPC
 *   ModelInfer with raw_input_contents over one HTTP/2 connection (one channel, one stream per
 *   call in flight, as a gRPC client library does);
 * - the cheapest call of each transport (GET /v2/health/live, ServerLive): the transport's own
 *   cost, with no model work.
 * The server's CPU time (utime + stime from /proc) ÷ wall time ÷ calls/s is each transport's
 * per-call cost. gRPC errors ride in trailers of HTTP 200 answers, so answers are counted from
 * the server's infera_grpc_responses_total{code="OK"}. Arms run in ABBA order for --rounds;
 * figures are medians. Before any load, both transports' answers are checked equal, bit for bit.
 * Writes result.json and summary.md to --out (default bench/runs/grpc-<UTC time>/).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { servingFlags } from '../../src/cli/serving-runtime';
import { cpuFeatures } from '../../src/native/binding';
import { cpuSnapshot, cpuUsage } from '../lib/cpu';
import { collectMachineFacts } from '../lib/machine';
import { pinPrefix, pinProcess, planPinning } from '../lib/pinning';
import { freePort, httpRequest, launchServer } from '../lib/server';
import { measureStalls } from '../lib/stall-probe';
import { median } from '../lib/stats';
import { loadSpeechChunks } from '../lib/wav';
import { toolArg, toolPositiveInt } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');
const CONCURRENCY = [16, 64];



interface ArmResult {
  arm: string;
  concurrency: number;
  callsPerSec: number;
  meanMs: number;
  maxMs: number;
  errors: number;
  /** Server CPU µs per answered call. */
  serverCpuUsPerCall: number;
  /** The server's CPU time ÷ wall time (1 = its core busy all the time). */
  serverCpuShare: number;
}

/** What h2load reports of one run. */
interface H2loadRun {
  callsPerSec: number;
  succeeded: number;
  failed: number;
  meanMs: number;
  maxMs: number;
}

/** h2load's "time for request" figure in ms ("523us", "1.23ms", "1.71s"). */
function h2Time(s: string): number {
  const m = /^([0-9.]+)(us|ms|s)$/.exec(s);
  if (!m) throw new Error(`h2load time '${s}'`);
  return Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1);
}

/**
 * One h2load run (nghttp2's C load generator, the same for both transports): `streams` calls in
 * flight on one HTTP/2 connection (gRPC, as one channel), or `connections` HTTP/1.1 connections
 * with one call each (REST). A POST with `body` when given, else a GET.
 */
function h2load(url: string, o: { seconds: number; h1: boolean; inFlight: number; body?: string; headers: string[]; cpus: string | null }): H2loadRun {
  const args = ['-D', String(o.seconds), '--warm-up-time', '1', ...(o.h1 ? ['--h1', '-c', String(o.inFlight), '-m', '1'] : ['-c', '1', '-m', String(o.inFlight)]), ...(o.body ? ['-d', o.body] : []), ...o.headers.flatMap((h) => ['-H', h]), url];
  const r = o.cpus ? spawnSync('taskset', ['-c', o.cpus, 'h2load', ...args], { encoding: 'utf8' }) : spawnSync('h2load', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`h2load failed: ${r.stderr || r.stdout}`);
  const text = r.stdout;
  const rps = /finished in [0-9.]+s, ([0-9.]+) req\/s/.exec(text);
  const req = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(text);
  const codes = /status codes: (\d+) 2xx/.exec(text);
  const time = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(text);
  if (!rps || !req || !codes || !time) throw new Error(`cannot read h2load's report:\n${text}`);
  return { callsPerSec: Number(rps[1]), succeeded: Number(codes[1]), failed: Number(req[2]) + Number(req[3]) + Number(req[4]), meanMs: h2Time(time[3]), maxMs: h2Time(time[2]) };
}

async function main(): Promise<void> {
  const seconds = toolPositiveInt('seconds', 6);
  const rounds = toolPositiveInt('rounds', 2);
  const out = path.resolve(toolArg('out') ?? path.join(ROOT, 'bench/runs', `grpc-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const pinning = planPinning(!process.argv.includes('--no-pin'));
  if (spawnSync('h2load', ['--version']).status !== 0) throw new Error('h2load is not installed (Debian: apt-get install nghttp2-client)');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-grpc-bench-'));
  const repo = path.join(work, 'repo');
  fs.cpSync(path.join(ROOT, 'models/vad'), path.join(repo, 'vad'), { recursive: true });
  const [port, grpcPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const server = await launchServer({
    name: 'infera',
    argv: [...pinPrefix(pinning), process.execPath, ...servingFlags(), path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--repository', repo, '--port', String(port), '--grpc-port', String(grpcPort), '--host', '127.0.0.1', '--log-level', 'warn'],
    cwd: ROOT,
    readyUrl: `${base}/v2/health/ready`,
  });
  const def = protoLoader.loadSync(path.join(ROOT, 'proto/grpc_service.proto'), { keepCase: true, longs: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  const unary = (method: string, req: object) => new Promise<any>((resolve, reject) => client[method](req, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
  try {
    if (pinning.enabled && pinning.loadgenCpus) pinProcess(process.pid, pinning.loadgenCpus);
    // One real chunk of speech (h2load sends one body): 1536 samples, zero state, only `output` back.
    const speech = loadSpeechChunks();
    const chunk = speech.chunks[Math.floor(speech.chunks.length / 2)];
    const raw = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const sr = Buffer.from(BigInt64Array.from([16000n]).buffer);
    const zeros = Buffer.alloc(512);
    const grpcRequest = {
      model_name: 'vad',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, chunk.length] }, { name: 'sr', datatype: 'INT64', shape: [] }, { name: 'h', datatype: 'FP32', shape: [2, 1, 64] }, { name: 'c', datatype: 'FP32', shape: [2, 1, 64] }],
      outputs: [{ name: 'output' }],
      raw_input_contents: [raw, sr, zeros, zeros],
    };
    const header = Buffer.from(JSON.stringify({
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [1, chunk.length], parameters: { binary_data_size: raw.byteLength } },
        { name: 'sr', datatype: 'INT64', shape: [], parameters: { binary_data_size: 8 } },
        { name: 'h', datatype: 'FP32', shape: [2, 1, 64], parameters: { binary_data_size: 512 } },
        { name: 'c', datatype: 'FP32', shape: [2, 1, 64], parameters: { binary_data_size: 512 } },
      ],
      outputs: [{ name: 'output', parameters: { binary_data: true } }],
    }));
    const restBody = Buffer.concat([header, raw, sr, zeros, zeros]);
    // A gRPC message on the wire: 1 byte (not compressed), 4 bytes big-endian length, the protobuf.
    const frame = (msg: Buffer) => Buffer.concat([Buffer.from([0, ...[24, 16, 8, 0].map((b) => (msg.byteLength >>> b) & 0xff)]), msg]);
    const files = {
      rest: path.join(work, 'rest-infer.bin'),
      grpc: path.join(work, 'grpc-infer.bin'),
      empty: path.join(work, 'grpc-empty.bin'),
    };
    fs.writeFileSync(files.rest, restBody);
    fs.writeFileSync(files.grpc, frame((def['inference.GRPCInferenceService'] as any).ModelInfer.requestSerialize(grpcRequest)));
    fs.writeFileSync(files.empty, frame(Buffer.alloc(0)));

    // The two transports answer the same bytes.
    const g = await unary('ModelInfer', grpcRequest);
    const r = await httpRequest(`${base}/v2/models/vad/infer`, 'POST', restBody, 5000, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) });
    if (!Buffer.from(g.raw_output_contents[0]).equals(r.body.subarray(Number(r.headers['inference-header-content-length'])))) throw new Error('gRPC and REST answers differ');

    const stalls = measureStalls(10, pinning.serverCpus);
    console.log(`machine stalls on the server's core, 10 s idle: ${stalls.gaps} gaps > 0.5 ms, longest ${stalls.longestMs.join(', ')} ms`);
    const grpcOk = async (method: string) => {
      const text = (await httpRequest(`${base}/metrics`, 'GET')).body.toString();
      return Number(new RegExp(`infera_grpc_responses_total\\{method="${method}",code="OK"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    const grpcHeaders = ['content-type: application/grpc', 'te: trailers'];
    const arms: Record<string, { url: string; h1: boolean; body?: string; headers: string[]; grpcMethod?: string }> = {
      'rest-binary-infer': { url: `${base}/v2/models/vad/infer`, h1: true, body: files.rest, headers: ['content-type: application/octet-stream', `inference-header-content-length: ${header.byteLength}`] },
      'grpc-raw-infer': { url: `http://127.0.0.1:${grpcPort}/inference.GRPCInferenceService/ModelInfer`, h1: false, body: files.grpc, headers: grpcHeaders, grpcMethod: 'ModelInfer' },
      'rest-health-live': { url: `${base}/v2/health/live`, h1: true, headers: [] },
      'grpc-server-live': { url: `http://127.0.0.1:${grpcPort}/inference.GRPCInferenceService/ServerLive`, h1: false, body: files.empty, headers: grpcHeaders, grpcMethod: 'ServerLive' },
    };

    const measure = async (arm: string, concurrency: number): Promise<ArmResult> => {
      const a = arms[arm];
      const ok0 = a.grpcMethod ? await grpcOk(a.grpcMethod) : 0;
      const cpu0 = cpuSnapshot(server.pid!);
      const run = h2load(a.url, { seconds, h1: a.h1, inFlight: concurrency, body: a.body, headers: a.headers, cpus: pinning.loadgenCpus });
      const used = cpuUsage(cpu0, cpuSnapshot(server.pid!));
      if (!used) throw new Error('cannot read /proc for CPU times');
      const [wall, serverCpu] = [used.wallS, used.serverCoreS];
      // gRPC errors travel in trailers of HTTP 200 answers: count the server's OK answers instead.
      const answered = a.grpcMethod ? (await grpcOk(a.grpcMethod)) - ok0 : run.succeeded;
      const res: ArmResult = {
        arm, concurrency, callsPerSec: Math.round(run.callsPerSec), meanMs: run.meanMs, maxMs: run.maxMs,
        errors: run.failed + Math.max(0, run.succeeded - answered),
        // CPU share over the whole run (warm-up included) ÷ the measured call rate: h2load's
        // rate covers only its measurement window, the server's CPU time the whole run.
        serverCpuUsPerCall: Math.round((serverCpu / wall / run.callsPerSec) * 1e7) / 10,
        serverCpuShare: Math.round((serverCpu / wall) * 100) / 100,
      };
      console.log(`  ${arm} ${concurrency} in flight: ${res.callsPerSec} calls/s, mean ${res.meanMs} ms, max ${res.maxMs} ms, server ${res.serverCpuUsPerCall} µs CPU/call (${Math.round(res.serverCpuShare * 100)} % busy), errors ${res.errors}`);
      return res;
    };

    const results: ArmResult[] = [];
    const pairs: [string, string][] = [['rest-binary-infer', 'grpc-raw-infer'], ['rest-health-live', 'grpc-server-live']];
    for (const c of CONCURRENCY) {
      for (const [a, b] of pairs) {
        for (let k = 0; k < rounds; k++) {
          for (const arm of k % 2 === 0 ? [a, b] : [b, a]) results.push(await measure(arm, c));
        }
      }
    }
    const med = (arm: string, c: number, f: (r: ArmResult) => number) => median(results.filter((x) => x.arm === arm && x.concurrency === c).map(f));
    const rows = CONCURRENCY.map((c) => {
      const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
      const get = (arm: string) => ({ rps: Math.round(med(arm, c, (x) => x.callsPerSec)), mean: round(med(arm, c, (x) => x.meanMs), 2), cpu: round(med(arm, c, (x) => x.serverCpuUsPerCall), 1), busy: round(med(arm, c, (x) => x.serverCpuShare), 2) });
      return { c, rest: get('rest-binary-infer'), grpc: get('grpc-raw-infer'), restLive: get('rest-health-live'), grpcLive: get('grpc-server-live') };
    });
    const errors = results.reduce((n, x) => n + x.errors, 0);
    const machine = collectMachineFacts(ROOT);
    const cpu = `${machine.cpuModel} (${Object.entries(cpuFeatures()).filter(([, v]) => v === true).map(([k]) => k).join(', ')})`;
    const lines = [
      '# gRPC raw vs REST binary (one-chunk VAD infer)',
      '',
      `- command: \`node dist/bench/tools/grpc-vs-rest.js --seconds ${seconds} --rounds ${rounds}\``,
      `- CPU: ${cpu}; server pinned to ${pinning.serverCpus ?? 'any'}, load generator to ${pinning.loadgenCpus ?? 'any'}`,
      `- machine stalls on the server's core (10 s idle): ${stalls.gaps} gaps > 0.5 ms, longest ${stalls.longestMs.join(', ')} ms`,
      '- load generator: h2load (nghttp2) for both: REST over HTTP/1.1, one connection per call in flight; gRPC over one HTTP/2 connection (one channel), one stream per call in flight',
      `- medians of ${rounds} rounds (ABBA), ${seconds} s each after 1 s warm-up; server CPU per call = its utime + stime (/proc, all threads) ÷ wall time ÷ calls/s; errors in all: ${errors}`,
      '',
      '| calls in flight | REST binary calls/s | gRPC raw calls/s | gRPC ÷ REST | REST mean ms | gRPC mean ms | server CPU µs/call, REST infer | gRPC infer | no-op: REST GET /v2/health/live | gRPC ServerLive |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map((x) => `| ${x.c} | ${x.rest.rps} | ${x.grpc.rps} | ${(x.grpc.rps / x.rest.rps).toFixed(2)}× | ${x.rest.mean} | ${x.grpc.mean} | ${x.rest.cpu} | ${x.grpc.cpu} | ${x.restLive.cpu} | ${x.grpcLive.cpu} |`),
      '',
      'Every round of every arm is in result.json.',
    ];
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify({ tool: 'grpc-vs-rest', seconds, rounds, cpu, pinning, stalls, results, medians: rows }, null, 2));
    fs.writeFileSync(path.join(out, 'summary.md'), `${lines.join('\n')}\n`);
    console.log(lines.join('\n'));
    if (errors > 0) process.exitCode = 1;
  } finally {
    client.close();
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
