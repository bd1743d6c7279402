/**
 * Issue 12's open-loop goal, alone: one-chunk VAD JSON infer (real speech; `--workload vad`,
 * against the naive uWS peer) or one-row /predict (real February 2001 flights; `--workload
 * predict`, against the naive Fastify peer, the one that serves /predict, Infera's result cache
 * off) at fixed shares of Infera's own capacity, p99 of both servers at the same offered rates.
 * Server pinned to --server-cpu, this process (the open-loop generator) to --gen-cpu; the
 * machine's own stalls on the server's core are probed before the runs (bench/lib/stall-probe.ts),
 * since no server answers faster than its core is given back.
 *
 *   node dist/bench/tools/open-loop-tail.js [--workload vad|predict] [--fractions 0.1,0.3,0.5,0.7] [--seconds 6]
 *        [--rounds 2] [--server-cpu 1] [--gen-cpu 0] [--out DIR]
 *
 * Capacity: Infera, closed loop, 64 connections, 5 s. Each round runs every rate on Infera then
 * on the naive peer, the next round in the opposite order (ABBA); the table gives each round.
 * Each cell also says how busy the server's event-loop thread was (bench/lib/thread-time.ts):
 * under open-loop arrivals a request costs the loop about twice its closed-loop share on a
 * shared VM's core, so "a share of the closed-loop capacity" is not that share of the core
 * (bench/README.md, "Stop 32").
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toolArg, toolPositiveInt } from '../lib/cli';
import { closedLoop, openLoop, type LoadTarget } from '../lib/load';
import { VAD_INFER_PATH, vadInferBody } from '../lib/oip';
import { pinProcess } from '../lib/pinning';
import { freePort, launchServer } from '../lib/server';
import { measureStalls } from '../lib/stall-probe';
import { coreShareDuring, servingPid } from '../lib/thread-time';
import { inferaServer, naiveServer, naiveUwsServer, oursRepository, READY_PATH, type ServerDef } from '../lib/targets';
import { FLIGHTS_MODEL, PREDICT_PATH, flightsModelFiles, flightsParquet, loadFebruaryFlights, predictBody } from '../lib/flights';
import type { PinningInfo } from '../lib/types';
import { vadModelPath } from '../lib/vad';
import { loadSpeechChunks } from '../lib/wav';

const ROOT = path.resolve(__dirname, '../../..');

interface Cell {
  server: string;
  round: number;
  fraction: number;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  maxSendLagMs: number;
  /** Share of a core the server's event-loop thread / all its threads used during the run (null off Linux). */
  loopBusy: number | null;
  allThreadsBusy: number | null;
  /** On-CPU µs of the event-loop thread per answered request. */
  loopUsPerRequest: number | null;
}

async function main(): Promise<void> {
  const fractions = (toolArg('fractions') ?? '0.1,0.3,0.5,0.7').split(',').map(Number);
  const seconds = toolPositiveInt('seconds', 6);
  const rounds = toolPositiveInt('rounds', 2);
  const serverCpu = toolArg('server-cpu') ?? '1';
  const genCpu = toolArg('gen-cpu') ?? '0';
  const cpu = `${os.cpus()[0]?.model.trim()} × ${os.availableParallelism()}`;
  const pinning: PinningInfo = { enabled: true, serverCpus: serverCpu, loadgenCpus: genCpu, serverCoreCount: 1, note: `server on ${serverCpu}, generator on ${genCpu}` };
  pinProcess(process.pid, genCpu);

  const workload = toolArg('workload') ?? 'vad';
  let bodies: Buffer[];
  let defs: ServerDef[];
  let urlPath: string;
  if (workload === 'vad') {
    const speech = loadSpeechChunks();
    bodies = speech.chunks.map((c, k) => Buffer.from(vadInferBody(String(k), c, speech.sampleRate)));
    defs = [inferaServer({ repository: oursRepository(ROOT), models: ['vad'] }), naiveUwsServer({ model: vadModelPath(ROOT), modelName: 'vad' })];
    urlPath = VAD_INFER_PATH;
  } else if (workload === 'predict') {
    const files = flightsModelFiles(oursRepository(ROOT));
    const flights = await loadFebruaryFlights(flightsParquet(ROOT), 2048);
    bodies = Array.from({ length: flights.rows }, (_, i) => predictBody(flights, i));
    defs = [
      inferaServer({ repository: oursRepository(ROOT), models: [FLIGHTS_MODEL], extraArgs: ['--predict-cache', '0'] }),
      naiveServer({ model: files.model, modelName: FLIGHTS_MODEL, featureSpec: files.featureSpec, predictConfig: files.modelJson }),
    ];
    urlPath = PREDICT_PATH;
  } else {
    throw new Error(`--workload must be vad or predict, got '${workload}'`);
  }

  const onServer = async <T>(def: ServerDef, fn: (t: LoadTarget, pid: number) => Promise<T>): Promise<T> => {
    const port = await freePort();
    const argv = ['taskset', '-c', serverCpu, ...def.argv(ROOT, port, { responseBodyB64: '', pinning })];
    const server = await launchServer({ name: def.name, argv, cwd: ROOT, readyUrl: `http://127.0.0.1:${port}${READY_PATH}`, readyTimeoutMs: 60000 });
    try {
      const target = { baseUrl: `http://127.0.0.1:${port}`, path: urlPath, bodies };
      await closedLoop(target, { connections: 16, durationS: 1, warmupS: 0 });
      return await fn(target, servingPid(server.child.pid!));
    } finally {
      await server.stop();
    }
  };

  const stalls = measureStalls(10, serverCpu);
  process.stdout.write(`stalls on cpu ${serverCpu}: ${JSON.stringify(stalls)}\n`);
  let rates: number[] = [];
  let capacityLoopUs: number | null = null;
  const capacity = await onServer(defs[0], async (t, pid) => {
    const { result: c, share, wallMs } = await coreShareDuring(pid, 1000, () => closedLoop(t, { connections: 64, durationS: 5, warmupS: 1 }));
    if (share) capacityLoopUs = (share.main * wallMs * 1000) / Math.max(1, c.responses);
    rates = fractions.map((f) => Math.max(1, Math.round(f * c.reqPerSec)));
    // The generator's own warm-up (its JIT, its sockets), unmeasured: on the device its first
    // open-loop runs lagged 4-7 ms behind their send times, against 0.4-0.5 ms once warm.
    await openLoop(t, { rate: rates[Math.floor(rates.length / 2)], durationS: 5, warmupS: 1, maxSockets: 64 });
    return c;
  });
  process.stdout.write(`infera capacity ${Math.round(capacity.reqPerSec)} req/s (event loop ${capacityLoopUs === null ? '?' : (capacityLoopUs as number).toFixed(0)} µs of CPU a request); rates ${rates.join(', ')}\n`);

  const cells: Cell[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? defs : [...defs].reverse();
    for (const def of order) {
      await onServer(def, async (t, pid) => {
        for (let i = 0; i < rates.length; i++) {
          // Measured over the run's measured window: its warm-up second runs first.
          const { result: s, share: busy, wallMs } = await coreShareDuring(pid, 1000, () => openLoop(t, { rate: rates[i], durationS: seconds, warmupS: 1, maxSockets: 64 }));
          const loopUs = busy ? (busy.main * wallMs * 1000) / Math.max(1, s.responses) : null;
          const cell: Cell = {
            server: def.name, round, fraction: fractions[i], rate: rates[i], p50Ms: s.latencyMs.p50, p99Ms: s.latencyMs.p99, non2xx: s.non2xx, errors: s.errors, maxSendLagMs: s.maxSendLagMs ?? 0,
            loopBusy: busy ? Math.round(busy.main * 1000) / 1000 : null, allThreadsBusy: busy ? Math.round(busy.all * 1000) / 1000 : null, loopUsPerRequest: loopUs === null ? null : Math.round(loopUs * 10) / 10,
          };
          cells.push(cell);
          process.stdout.write(`${JSON.stringify(cell)}\n`);
        }
      });
    }
  }

  const lines = [
    `${workload}; ${cpu}; server on cpu ${serverCpu}, open-loop generator on cpu ${genCpu}; Infera capacity ${Math.round(capacity.reqPerSec)} req/s (closed loop, 64 connections; its event loop on the CPU ${capacityLoopUs === null ? '?' : (capacityLoopUs as number).toFixed(0)} µs a request); ${seconds} s per rate after 1 s; stalls on the server's cpu in 10 s: ${stalls.gaps} gaps, ${stalls.stalledMs} ms, longest ${stalls.longestMs.join(' / ')} ms`,
    '',
    "† after a p99: the generator's sends lagged more than 1 ms behind schedule in that run (the figure then includes the generator's own delay).",
    '',
    '"loop N %": the share of the core the server\'s event-loop thread was on the CPU during the measured seconds (the scheduler\'s own count, /proc/<pid>/task/<tid>/schedstat).',
    '',
    `| share of capacity | req/s | round | ${defs[0].name} p50 / p99 ms | ${defs[1].name} p50 / p99 ms |`,
    '|---:|---:|---:|---|---|',
  ];
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < rates.length; i++) {
      const at = (name: string) => cells.find((c) => c.server === name && c.round === round && c.rate === rates[i]);
      const a = at(defs[0].name);
      const b = at(defs[1].name);
      const fmt = (c?: Cell) => (c ? `${c.p50Ms} / **${c.p99Ms}**${c.maxSendLagMs > 1 ? ` †${c.maxSendLagMs}` : ''}${c.loopBusy !== null ? ` · loop ${Math.round(c.loopBusy * 100)} %` : ''}${c.non2xx + c.errors > 0 ? ` (${c.non2xx} non-2xx, ${c.errors} errors)` : ''}` : '—');
      lines.push(`| ${fractions[i]} | ${rates[i]} | ${round} | ${fmt(a)} | ${fmt(b)} |`);
    }
  }
  const table = lines.join('\n');
  process.stdout.write(`\n${table}\n`);
  const out = toolArg('out');
  if (out) {
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'open-loop-tail.json'), JSON.stringify({ workload, cpu, serverCpu, genCpu, seconds, capacity: capacity.reqPerSec, capacityLoopUsPerRequest: capacityLoopUs, stalls, cells }, null, 2));
    fs.writeFileSync(path.join(out, 'open-loop-tail.md'), `${table}\n`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
