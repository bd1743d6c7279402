/**
 * How Infera's throughput grows with cores (issue 12's scaling curve): for each core count N,
 * the servers run under `taskset -c 0-(N-1)` in these layouts,
 *   - one process, `--workers N` (one event loop, N inference worker threads),
 *   - one server of N serving processes (`--processes N`, the built-in supervisor), and, with
 *     --replicas, N separate servers on one port (`--reuse-port`), `--workers 1` each,
 * and wrk (one thread per generator core, pinned to the generator cores) offers a closed loop of
 * real requests: one-chunk Silero VAD JSON (hello16000.wav) and one-row /predict (February 2001
 * flights). Meant for a machine with many cores (the 16-core device machine); on a small one the
 * generator shares the servers' cores and the figures say so.
 *
 *   node dist/bench/tools/core-scaling.js [--cores 1,2,4,8,16] [--gen-cores 12-15] [--seconds 6]
 *        [--per-core-connections 32] [--workloads vad,predict] [--workers-counts 2,4] [--replicas] [--out DIR]
 *
 * --workers-counts adds, at each core count above them, one process with that many workers.
 *
 * Every answer's status is counted (a non-2xx fails the run); the /predict result cache is off
 * so that every request is served by the model.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toolArg, toolPositiveInt } from '../lib/cli';
import { flightsParquet, loadFebruaryFlights, PREDICT_PATH, predictBody } from '../lib/flights';
import { VAD_INFER_PATH, vadInferBody } from '../lib/oip';
import { freePort, httpRequest, launchServer, type ServerProcess } from '../lib/server';
import { loadSpeechChunks } from '../lib/wav';
import { wrkClosedLoop, wrkPath } from '../lib/wrk';

const ROOT = path.resolve(__dirname, '../../..');

/**
 * 'workers': one process, --workers = cores; 'workers=K': one process, --workers K; 'processes':
 * `--processes` = cores, one worker each; 'replicas': one server per core on one port.
 */
type Layout = 'workers' | 'processes' | 'replicas' | `workers=${number}`;
type Workload = 'vad' | 'predict';

interface Row {
  workload: Workload;
  cores: number;
  layout: Layout;
  connections: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  generatorSharesCores: boolean;
  /** From /metrics after the run (every process of a --processes server; in the replicas layout, whichever answered). */
  server: ServerCounters;
}

interface ServerCounters {
  meanBatchRows: number;
  inlineBatches: number;
  poolBatches: number;
  meanComputeMs: number;
  cpuSeconds: number;
}

/** Sums a Prometheus sample family over the label sets that mention `model`. */
function metric(text: string, name: string, model: string, extra = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (line.includes('{') && (!line.includes(`model="${model}"`) || !line.includes(extra))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function serverCounters(baseUrl: string, model: string): Promise<ServerCounters> {
  const text = (await httpRequest(`${baseUrl}/metrics`, 'GET')).body.toString('utf8');
  const batches = metric(text, 'infera_batch_size_count', model);
  return {
    meanBatchRows: Math.round((metric(text, 'infera_batch_size_sum', model) / batches) * 100) / 100,
    inlineBatches: metric(text, 'infera_batch_executions_total', model, 'site="inline"'),
    poolBatches: metric(text, 'infera_batch_executions_total', model, 'site="pool"'),
    meanComputeMs: Math.round((metric(text, 'infera_compute_duration_seconds_sum', model) / metric(text, 'infera_compute_duration_seconds_count', model)) * 1e6) / 1e3,
    cpuSeconds: Math.round(metric(text, 'process_cpu_seconds_total', '') * 100) / 100,
  };
}

/** "12-15" or "3" or "0,2" → the CPU list as given, and its size. */
function cpuCount(list: string): number {
  let n = 0;
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a) || (b !== undefined && (!Number.isInteger(b) || b < a))) throw new Error(`bad CPU list: ${list}`);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

async function startLayout(layout: Layout, cores: number, port: number): Promise<ServerProcess[]> {
  const pin = ['taskset', '-c', cores === 1 ? '0' : `0-${cores - 1}`];
  const base = [...pin, process.execPath, path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'error', '--predict-cache', '0'];
  const readyUrl = `http://127.0.0.1:${port}/v2/health/ready`;
  if (layout === 'processes') {
    const server = await launchServer({ name: layout, argv: [...base, '--processes', String(cores), '--per-process-state', '--workers', '1'], cwd: ROOT, readyUrl, readyTimeoutMs: 60000 });
    // Ready means one process is; wait for all of them to take part in /metrics.
    const deadline = Date.now() + 60000;
    for (;;) {
      const text = (await httpRequest(`http://127.0.0.1:${port}/metrics`, 'GET')).body.toString('utf8');
      if (metric(text, 'infera_serving_processes', '') >= cores) break;
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`only ${metric(text, 'infera_serving_processes', '')} of ${cores} serving processes joined within 60 s`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return [server];
  }
  if (layout !== 'replicas') {
    const workers = layout === 'workers' ? cores : Number(layout.slice('workers='.length));
    return [await launchServer({ name: layout, argv: [...base, '--workers', String(workers)], cwd: ROOT, readyUrl, readyTimeoutMs: 60000 })];
  }
  const servers: ServerProcess[] = [];
  try {
    // One after the other: each must be ready, not only the first one answering.
    for (let i = 0; i < cores; i++) servers.push(await launchServer({ name: `replica-${i}`, argv: [...base, '--workers', '1', '--reuse-port'], cwd: ROOT, readyUrl, readyTimeoutMs: 60000 }));
  } catch (e) {
    for (const s of servers) await s.stop();
    throw e;
  }
  return servers;
}

async function main(): Promise<void> {
  if (!wrkPath()) throw new Error("wrk is missing: install the Debian package 'wrk'");
  const total = os.availableParallelism();
  const coreCounts = (toolArg('cores') ?? [1, 2, 4, 8, 16].filter((n) => n <= total).join(',')).split(',').map(Number);
  const genCores = toolArg('gen-cores') ?? (total >= 8 ? `${total - Math.floor(total / 4)}-${total - 1}` : String(total - 1));
  const genThreads = cpuCount(genCores);
  const genFirst = Number(genCores.split(/[-,]/)[0]);
  const seconds = toolPositiveInt('seconds', 6);
  const perCore = toolPositiveInt('per-core-connections', 32);
  const workloads = (toolArg('workloads') ?? 'vad,predict').split(',') as Workload[];
  const out = toolArg('out');
  const workerCounts = (toolArg('workers-counts') ?? '').split(',').filter(Boolean).map(Number);
  const layoutsFor = (cores: number): Layout[] => {
    if (cores === 1) return ['workers'];
    const fixed = workerCounts.filter((k) => k < cores).map((k) => `workers=${k}` as const);
    return [...fixed, 'workers', 'processes', ...(process.argv.includes('--replicas') ? ['replicas' as const] : [])];
  };

  const speech = loadSpeechChunks();
  const vadBodies = speech.chunks.map((c, i) => Buffer.from(vadInferBody(`c${i}`, c, speech.sampleRate)));
  const flights = await loadFebruaryFlights(flightsParquet(ROOT), 512);
  const predictBodies = Array.from({ length: flights.rows }, (_, i) => predictBody(flights, i));
  const target = (w: Workload) => (w === 'vad' ? { path: VAD_INFER_PATH, bodies: vadBodies } : { path: PREDICT_PATH, bodies: predictBodies });

  const rows: Row[] = [];
  const cpu = `${os.cpus()[0]?.model.trim()} × ${total}`;
  const setup = `${cpu}; servers on cores 0..N-1, wrk -t${genThreads} on cores ${genCores}, ${seconds} s per run`;
  process.stdout.write(`${setup}\n`);
  for (const workload of workloads) {
    for (const cores of coreCounts) {
      for (const layout of layoutsFor(cores)) {
        const port = await freePort();
        const servers = await startLayout(layout, cores, port);
        const connections = Math.max(64, perCore * cores);
        try {
          const t = target(workload);
          const s = await wrkClosedLoop({ baseUrl: `http://127.0.0.1:${port}`, path: t.path, bodies: t.bodies }, { connections, warmupS: 2, durationS: seconds }, { threads: genThreads, prefix: ['taskset', '-c', genCores] });
          if (s.non2xx > 0 || s.errors > 0) throw new Error(`${workload} ${layout} ${cores}: ${s.non2xx} non-2xx, ${s.errors} errors`);
          const server = await serverCounters(`http://127.0.0.1:${port}`, workload === 'vad' ? 'vad' : 'flights-delay');
          const row: Row = { workload, cores, layout, connections, reqPerSec: s.reqPerSec, p50Ms: s.latencyMs.p50, p99Ms: s.latencyMs.p99, generatorSharesCores: genFirst < cores, server };
          rows.push(row);
          process.stdout.write(`${workload} ${cores} core(s) ${layout}: ${s.reqPerSec} req/s, p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms (${connections} connections${row.generatorSharesCores ? ', generator shares cores' : ''}); one process: ${JSON.stringify(server)}\n`);
        } finally {
          for (const s of servers) await s.stop();
        }
      }
    }
  }

  const lines = [setup, '', '| workload | cores | layout | connections | req/s | × 1 core | per-core efficiency | p50 ms | p99 ms |', '|---|---:|---|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const one = rows.find((x) => x.workload === r.workload && x.cores === 1)?.reqPerSec;
    const speedup = one ? r.reqPerSec / one : NaN;
    lines.push(`| ${r.workload} | ${r.cores}${r.generatorSharesCores ? ' (shared with wrk)' : ''} | ${r.layout} | ${r.connections} | ${Math.round(r.reqPerSec).toLocaleString('en-US')} | ${speedup.toFixed(2)} | ${(speedup / r.cores).toFixed(2)} | ${r.p50Ms} | ${r.p99Ms} |`);
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'core-scaling.json'), `${JSON.stringify({ cpu, genCores, seconds, rows }, null, 2)}\n`);
    writeFileSync(path.join(out, 'core-scaling.md'), `${lines.join('\n')}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n${(e as { logTail?: string }).logTail ?? ''}\n`);
  process.exit(1);
});
