/**
 * gRPC raw vs REST binary: what each transport costs per call on the same server.
 *
 *   node dist/bench/tools/grpc-vs-rest.js [--seconds 6] [--rounds 2] [--out bench/results/grpc] [--no-pin]
 *
 * One `infera serve --grpc-port` process (the vad model; the server pinned to one core, this
 * process, the load generator, to the other). Closed loop at 16 and 64 calls in flight, for:
 * - one-chunk VAD infer (1536 samples of real speech, zero state, output `output` only):
 *   REST with the binary tensor extension (autocannon, one connection per call in flight) and
 *   gRPC ModelInfer with raw_input_contents (@grpc/grpc-js, one channel, as tritonclient uses);
 * - the cheapest call of each transport (GET /v2/health/live, ServerLive): the transport's own
 *   cost, with no model work.
 * The server's CPU time per call (from /proc, utime + stime over the window) is the per-call
 * cost; the load generator's CPU share says whether it, not the server, was the limit.
 * Arms run in ABBA order for --rounds; figures are medians. Before any load, both transports'
 * answers are checked equal, bit for bit.
 * Writes result.json and summary.md to --out (default bench/runs/grpc-<UTC time>/).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { servingFlags } from '../../src/cli/serving-runtime';
import { cpuFeatures } from '../../src/native/binding';
import { closedLoop, type LoadTarget } from '../lib/load';
import { collectMachineFacts } from '../lib/machine';
import { pinPrefix, pinProcess, planPinning } from '../lib/pinning';
import { freePort, httpRequest, launchServer } from '../lib/server';
import { measureStalls } from '../lib/stall-probe';
import { median } from '../lib/stats';
import { loadSpeechChunks } from '../lib/wav';
import { toolArg } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');
const CONCURRENCY = [16, 64];

function positive(name: string, fallback: number): number {
  const v = Number(toolArg(name) ?? fallback);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer, got ${toolArg(name)}`);
  return v;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime (fields 14 and 15 of stat, every thread included), in clock ticks of 1/100 s on Linux.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface ArmResult {
  arm: string;
  concurrency: number;
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Server CPU µs per call. */
  serverCpuUsPerCall: number;
  /** The load generator's CPU time ÷ wall time. */
  loadgenCpuShare: number;
}

/** A closed loop of `concurrency` gRPC calls in flight on one channel for `seconds` (after a 1 s warm-up). */
async function grpcClosedLoop(call: () => Promise<unknown>, concurrency: number, seconds: number): Promise<{ calls: number; elapsedS: number; latMs: number[]; errors: number }> {
  let measuring = false;
  let stop = false;
  let calls = 0;
  let errors = 0;
  const latMs: number[] = [];
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        await call();
        if (measuring) {
          calls += 1;
          latMs.push(performance.now() - t0);
        }
      } catch {
        errors += 1;
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  await new Promise((r) => setTimeout(r, 1000));
  measuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsedS = (performance.now() - start) / 1000;
  stop = true;
  await Promise.all(workers);
  return { calls, elapsedS, latMs, errors };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const seconds = positive('seconds', 6);
  const rounds = positive('rounds', 2);
  const out = path.resolve(toolArg('out') ?? path.join(ROOT, 'bench/runs', `grpc-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const pinning = planPinning(!process.argv.includes('--no-pin'));

  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-grpc-bench-'));
  fs.cpSync(path.join(ROOT, 'models/vad'), path.join(repo, 'vad'), { recursive: true });
  const [port, grpcPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const server = await launchServer({
    name: 'infera',
    argv: [...pinPrefix(pinning), process.execPath, ...servingFlags(), path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--repository', repo, '--port', String(port), '--grpc-port', String(grpcPort), '--host', '127.0.0.1', '--log-level', 'warn'],
    cwd: ROOT,
    readyUrl: `${base}/v2/health/ready`,
  });
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(ROOT, 'proto/grpc_service.proto'), { keepCase: true, longs: String, defaults: true, oneofs: true })) as any;
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  const unary = (method: string, req: object) => new Promise<any>((resolve, reject) => client[method](req, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
  try {
    if (pinning.enabled && pinning.loadgenCpus) pinProcess(process.pid, pinning.loadgenCpus);
    const speech = loadSpeechChunks();
    const chunks = speech.chunks.slice(0, 64);
    const raw = (c: Float32Array) => Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    const sr = Buffer.from(BigInt64Array.from([16000n]).buffer);
    const zeros = Buffer.alloc(512);
    const grpcRequests = chunks.map((c, k) => ({
      model_name: 'vad', id: String(k),
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, c.length] }, { name: 'sr', datatype: 'INT64', shape: [] }, { name: 'h', datatype: 'FP32', shape: [2, 1, 64] }, { name: 'c', datatype: 'FP32', shape: [2, 1, 64] }],
      outputs: [{ name: 'output' }],
      raw_input_contents: [raw(c), sr, zeros, zeros],
    }));
    const restBodies = chunks.map((c, k) => {
      const header = Buffer.from(JSON.stringify({
        id: String(k),
        inputs: [
          { name: 'input', datatype: 'FP32', shape: [1, c.length], parameters: { binary_data_size: c.byteLength } },
          { name: 'sr', datatype: 'INT64', shape: [], parameters: { binary_data_size: 8 } },
          { name: 'h', datatype: 'FP32', shape: [2, 1, 64], parameters: { binary_data_size: 512 } },
          { name: 'c', datatype: 'FP32', shape: [2, 1, 64], parameters: { binary_data_size: 512 } },
        ],
        outputs: [{ name: 'output', parameters: { binary_data: true } }],
      }));
      return { body: Buffer.concat([header, raw(c), sr, zeros, zeros]), headerLength: header.byteLength };
    });
    const restTarget: LoadTarget = {
      baseUrl: base, path: '/v2/models/vad/infer', contentType: 'application/octet-stream',
      bodies: restBodies.map((b) => b.body), bodyHeaders: restBodies.map((b) => ({ 'Inference-Header-Content-Length': String(b.headerLength) })),
    };

    // The two transports answer the same bytes.
    for (let k = 0; k < chunks.length; k += 8) {
      const g = await unary('ModelInfer', grpcRequests[k]);
      const r = await httpRequest(`${base}/v2/models/vad/infer`, 'POST', restBodies[k].body, 5000, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(restBodies[k].headerLength) });
      const blob = r.body.subarray(Number(r.headers['inference-header-content-length']));
      if (!Buffer.from(g.raw_output_contents[0]).equals(blob)) throw new Error(`chunk ${k}: gRPC and REST answers differ`);
    }

    const stalls = measureStalls(10, pinning.serverCpus);
    console.log(`machine stalls on the server's core, 10 s idle: ${stalls.gaps} gaps > 0.5 ms, longest ${stalls.longestMs.join(', ')} ms`);

    const measure = async (arm: string, concurrency: number): Promise<ArmResult> => {
      const s0 = cpuSeconds(server.pid!);
      const l0 = process.cpuUsage();
      const w0 = performance.now();
      let calls: number, elapsedS: number, p50: number, p99: number, errors: number;
      if (arm.startsWith('rest')) {
        const target = arm === 'rest-binary-infer' ? restTarget : { baseUrl: base, path: '/v2/health/live', bodies: [] as Buffer[] };
        const r = await closedLoop(target, { connections: concurrency, warmupS: 1, durationS: seconds });
        [calls, elapsedS, p50, p99, errors] = [r.ok2xx, r.elapsedS, r.latencyMs.p50, r.latencyMs.p99, r.errors + r.non2xx + r.timeouts];
      } else {
        let k = 0;
        const call = arm === 'grpc-raw-infer' ? () => unary('ModelInfer', grpcRequests[k++ % grpcRequests.length]) : () => unary('ServerLive', {});
        const r = await grpcClosedLoop(call, concurrency, seconds);
        const sorted = r.latMs.sort((a, b) => a - b);
        [calls, elapsedS, p50, p99, errors] = [r.calls, r.elapsedS, pct(sorted, 50), pct(sorted, 99), r.errors];
      }
      const wall = (performance.now() - w0) / 1000;
      const serverCpu = cpuSeconds(server.pid!) - s0;
      const l = process.cpuUsage(l0);
      // CPU per call over the whole run (warm-up included) ÷ calls scaled to the whole run.
      const rps = calls / elapsedS;
      const res: ArmResult = {
        arm, concurrency, callsPerSec: Math.round(rps), p50Ms: Math.round(p50 * 1000) / 1000, p99Ms: Math.round(p99 * 1000) / 1000, errors,
        serverCpuUsPerCall: Math.round((serverCpu / (rps * wall)) * 1e6 * 10) / 10,
        loadgenCpuShare: Math.round(((l.user + l.system) / 1e6 / wall) * 100) / 100,
      };
      console.log(`  ${arm} c=${concurrency}: ${res.callsPerSec} calls/s, p50 ${res.p50Ms} ms, p99 ${res.p99Ms} ms, server ${res.serverCpuUsPerCall} µs CPU/call, load generator ${Math.round(res.loadgenCpuShare * 100)} % CPU, errors ${errors}`);
      return res;
    };

    const results: ArmResult[] = [];
    const pairs: [string, string][] = [['rest-binary-infer', 'grpc-raw-infer'], ['rest-health-live', 'grpc-server-live']];
    for (const c of CONCURRENCY) {
      for (const [a, b] of pairs) {
        for (let r = 0; r < rounds; r++) {
          for (const arm of r % 2 === 0 ? [a, b] : [b, a]) results.push(await measure(arm, c));
        }
      }
    }
    const med = (arm: string, c: number, f: (r: ArmResult) => number) => median(results.filter((r) => r.arm === arm && r.concurrency === c).map(f));
    const rows = CONCURRENCY.map((c) => {
      const get = (arm: string) => ({ rps: med(arm, c, (r) => r.callsPerSec), p99: med(arm, c, (r) => r.p99Ms), cpu: med(arm, c, (r) => r.serverCpuUsPerCall), lg: med(arm, c, (r) => r.loadgenCpuShare) });
      return { c, rest: get('rest-binary-infer'), grpc: get('grpc-raw-infer'), restLive: get('rest-health-live'), grpcLive: get('grpc-server-live') };
    });
    const machine = collectMachineFacts(ROOT);
    const cpu = `${machine.cpuModel ?? os.cpus()[0]?.model} (${Object.entries(cpuFeatures()).filter(([, v]) => v === true).map(([k]) => k).join(', ')})`;
    const lines = [
      '# gRPC raw vs REST binary (one-chunk VAD infer)',
      '',
      `- command: \`node dist/bench/tools/grpc-vs-rest.js --seconds ${seconds} --rounds ${rounds}\``,
      `- CPU: ${cpu}; server pinned to ${pinning.serverCpus ?? 'any'}, load generator to ${pinning.loadgenCpus ?? 'any'}`,
      `- machine stalls on the server's core (10 s idle): ${stalls.gaps} gaps > 0.5 ms, longest ${stalls.longestMs.join(', ')} ms`,
      `- REST: binary tensor extension, autocannon, one connection per call in flight; gRPC: ModelInfer with raw_input_contents, @grpc/grpc-js, one channel`,
      `- medians of ${rounds} rounds (ABBA), ${seconds} s each after 1 s warm-up; server CPU per call from /proc (whole run ÷ calls)`,
      '',
      '| calls in flight | REST binary calls/s | gRPC raw calls/s | gRPC ÷ REST | REST p99 ms | gRPC p99 ms | server CPU µs/call REST | gRPC | no-op call µs REST (/v2/health/live) | gRPC (ServerLive) | load generator CPU REST / gRPC |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.c} | ${r.rest.rps} | ${r.grpc.rps} | ${(r.grpc.rps / r.rest.rps).toFixed(2)}× | ${r.rest.p99} | ${r.grpc.p99} | ${r.rest.cpu} | ${r.grpc.cpu} | ${r.restLive.cpu} | ${r.grpcLive.cpu} | ${Math.round(r.rest.lg * 100)} % / ${Math.round(r.grpc.lg * 100)} % |`),
      '',
      'Every figure of every round is in result.json.',
    ];
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify({ tool: 'grpc-vs-rest', seconds, rounds, cpu, pinning, stalls, results, medians: rows }, null, 2));
    fs.writeFileSync(path.join(out, 'summary.md'), `${lines.join('\n')}\n`);
    console.log(lines.join('\n'));
  } finally {
    client.close();
    await server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
