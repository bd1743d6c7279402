/**
 * Bytes the server allocates per /predict request, and where: V8's sampling heap profiler
 * through the inspector, with objects already collected by scavenges and mark-compacts
 * included, so the figure is allocation (what drives scavenges), not retention.
 *
 *   node dist/bench/tools/alloc-profile.js [--requests 40000] [--connections 16] [--top 30]
 *
 * One `infera serve --repository models --predict-cache 0 --workers 1` (pinned to the last
 * core when there are two or more), h2load (apt-get install nghttp2-client) on the others,
 * one real February 2001 flight as the body; 20,000 requests of warm-up, then the sampled
 * run. Prints total sampled bytes ÷ requests and the functions that allocated most (self
 * bytes per request; an inlined callee's allocations count for the frame V8 reports).
 * Asserts nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { servingFlags } from '../../src/cli/serving-runtime';
import { featureDict, FLIGHTS_MODEL, flightsParquet, loadFebruaryFlights } from '../lib/flights';
import { freePort } from '../lib/server';
import { toolPositiveInt } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');

interface InspectorSocket {
  on(event: string, cb: (...a: never[]) => void): void;
  off(event: string, cb: (...a: never[]) => void): void;
  send(data: string): void;
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocketImpl = require('ws') as new (url: string, opts: { maxPayload: number }) => InspectorSocket;

interface ProfileNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: ProfileNode[] }

function call<T>(ws: InspectorSocket, id: number, method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (data: Buffer) => {
      const m = JSON.parse(data.toString()) as { id?: number; result?: T; error?: { message: string } };
      if (m.id !== id) return;
      ws.off('message', on);
      if (m.error) reject(new Error(m.error.message));
      else resolve(m.result as T);
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ id, method, params }));
  });
}

async function main(): Promise<void> {
  const requests = toolPositiveInt('requests', 40_000);
  const connections = toolPositiveInt('connections', 16);
  const top = toolPositiveInt('top', 30);
  const cores = os.cpus().length;
  const [serverCpu, loadCpus] = cores >= 2 ? [String(cores - 1), `0-${cores - 2}`] : ['0', '0'];
  const flights = await loadFebruaryFlights(flightsParquet(ROOT), 1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-alloc-'));
  const bodyFile = path.join(dir, 'body.json');
  fs.writeFileSync(bodyFile, JSON.stringify({ model: FLIGHTS_MODEL, features: featureDict(flights, 0) }));
  const port = await freePort();
  const server = spawn('taskset', ['-c', serverCpu, process.execPath, ...servingFlags(), '--inspect=127.0.0.1:0', path.join(ROOT, 'dist/src/cli/main.js'), 'serve',
    '--repository', path.join(ROOT, 'models'), '--port', String(port), '--host', '127.0.0.1', '--log-level', 'fatal', '--predict-cache', '0', '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      server.stderr!.on('data', (d: Buffer) => {
        seen += d.toString();
        const m = /Debugger listening on (ws:\/\/\S+)/.exec(seen);
        if (m) resolve(m[1]);
      });
      server.on('exit', () => reject(new Error(`server exited: ${seen.slice(0, 500)}`)));
    });
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/v2/health/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      if (i > 300) throw new Error('server not ready after 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const load = (n: number) => execFileSync('taskset', ['-c', loadCpus, 'h2load', '--h1', '-n', String(n), '-c', String(connections), '-m', '1',
      '-H', 'content-type: application/json', '-d', bodyFile, `http://127.0.0.1:${port}/predict`]).toString();
    load(20_000);
    const ws = new WebSocketImpl(url, { maxPayload: 2 ** 31 });
    await new Promise((resolve) => ws.on('open', resolve));
    await call(ws, 1, 'HeapProfiler.enable');
    await call(ws, 2, 'HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    const out = load(requests);
    const { profile } = await call<{ profile: { head: ProfileNode } }>(ws, 3, 'HeapProfiler.stopSampling');
    ws.close();
    const self = new Map<string, number>();
    let total = 0;
    const walk = (node: ProfileNode) => {
      const f = node.callFrame;
      const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
      if (node.selfSize) {
        self.set(name, (self.get(name) ?? 0) + node.selfSize);
        total += node.selfSize;
      }
      node.children.forEach(walk);
    };
    walk(profile.head);
    console.log(`cpu: ${os.cpus()[0].model}, ${cores} cores; server on core ${serverCpu}, h2load on ${loadCpus}, ${connections} connections`);
    console.log(out.split('\n').filter((l) => /finished in|status codes/.test(l)).join('\n'));
    console.log(`allocated: ${Math.round(total / requests)} bytes per request (sampled every 256 bytes over ${requests} requests)`);
    for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${String(Math.round(v / requests)).padStart(7)} B/req  ${k}`);
  } finally {
    server.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
