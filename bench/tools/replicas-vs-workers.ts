/**
 * Scale up or out? Two `infera serve` replicas sharing one port (SO_REUSEPORT, `--reuse-port`:
 * the kernel spreads connections over them, as a Kubernetes Service spreads them over pods)
 * against one replica with two inference workers, on the same two cores, under the same wrk
 * load of one-row /predict of real February 2001 flights.
 *
 *   node dist/bench/tools/replicas-vs-workers.js [--seconds 10] [--rounds 2] [--connections 64]
 *
 * All processes share the machine's cores with wrk (a 2-core machine cannot give the
 * generator its own): both layouts pay the same, so the ratio is the figure, not the req/s.
 * Rounds alternate the layouts (ABBA) so a slow phase of a shared machine hits both. The
 * /predict result cache is off: 512 rows rotated would be answered from it, and the figure is
 * about serving the model.
 */
import os from 'node:os';
import path from 'node:path';
import { toolPositiveInt } from '../lib/cli';
import { FEBRUARY_2001, flightsParquet, loadFebruaryFlights, PREDICT_PATH, predictBody } from '../lib/flights';
import { freePort, launchServer, ServerProcess } from '../lib/server';
import { wrkClosedLoop, wrkPath } from '../lib/wrk';

const ROOT = path.resolve(__dirname, '../../..');

type Layout = 'one replica, 2 workers' | 'two replicas, 1 worker each';

async function start(layout: Layout, port: number): Promise<ServerProcess[]> {
  const base = [process.execPath, path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'error', '--predict-cache', '0'];
  const readyUrl = `http://127.0.0.1:${port}/v2/health/ready`;
  if (layout === 'one replica, 2 workers') return [await launchServer({ name: 'one', argv: [...base, '--workers', '2'], cwd: ROOT, readyUrl })];
  // Started one after the other: the second must be ready too, not only the first answering.
  const a = await launchServer({ name: 'a', argv: [...base, '--workers', '1', '--reuse-port'], cwd: ROOT, readyUrl });
  const b = await launchServer({ name: 'b', argv: [...base, '--workers', '1', '--reuse-port'], cwd: ROOT, readyUrl });
  return [a, b];
}

async function main(): Promise<void> {
  if (!wrkPath()) throw new Error("wrk is missing: install the Debian package 'wrk'");
  const seconds = toolPositiveInt('seconds', 10);
  const rounds = toolPositiveInt('rounds', 2);
  const connections = toolPositiveInt('connections', 64);
  const flights = await loadFebruaryFlights(flightsParquet(ROOT), 512);
  const bodies = Array.from({ length: flights.rows }, (_, i) => predictBody(flights, i));
  const results: Record<Layout, number[]> = { 'one replica, 2 workers': [], 'two replicas, 1 worker each': [] };
  const p99: Record<Layout, number[]> = { 'one replica, 2 workers': [], 'two replicas, 1 worker each': [] };
  const order: Layout[] = [];
  for (let r = 0; r < rounds; r++) order.push(...(r % 2 === 0 ? (['one replica, 2 workers', 'two replicas, 1 worker each'] as const) : (['two replicas, 1 worker each', 'one replica, 2 workers'] as const)));
  for (const layout of order) {
    const port = await freePort();
    const servers = await start(layout, port);
    try {
      const s = await wrkClosedLoop({ baseUrl: `http://127.0.0.1:${port}`, path: PREDICT_PATH, bodies }, { connections, warmupS: 2, durationS: seconds });
      if (s.non2xx > 0 || s.errors > 0) throw new Error(`${layout}: ${s.non2xx} non-2xx, ${s.errors} errors`);
      results[layout].push(s.reqPerSec);
      p99[layout].push(s.latencyMs.p99);
      process.stdout.write(`${layout}: ${s.reqPerSec} req/s, p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms\n`);
    } finally {
      for (const s of servers) await s.stop();
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const up = median(results['one replica, 2 workers']);
  const out = median(results['two replicas, 1 worker each']);
  process.stdout.write(`${os.cpus()[0]?.model.trim()} × ${os.availableParallelism()}, wrk ${connections} connections, ${seconds} s × ${rounds} rounds (${FEBRUARY_2001.from} flights, one row per request)\n`);
  process.stdout.write(`median req/s: one replica with 2 workers ${up}, two replicas ${out}: out ÷ up = ${(out / up).toFixed(2)}×; median p99 ${median(p99['one replica, 2 workers'])} vs ${median(p99['two replicas, 1 worker each'])} ms\n`);
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ results, p99 })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
