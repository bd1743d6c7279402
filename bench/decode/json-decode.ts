/**
 * Where should an OIP JSON body be decoded? Measures, on real VAD request bodies
 * of 1, 64 and 256 rows (speech from hello16000.wav), the main-thread time per
 * request (event-loop utilisation) and the wall time for three decoders:
 * JSON.parse on the main thread, JSON.parse in a Piscina worker, and the
 * server's decoder (native number-array parser in libuv async work).
 *
 *   node dist/bench/decode/json-decode.js [--quick]
 * writes bench/results/json-decode/{result.json,summary.md}.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { decodeInferRequest } from '../../src/protocol/oip-codec';
import { collectMachineFacts, findRepoRoot } from '../lib/machine';
import { loadSpeechChunks } from '../lib/wav';

type Method = 'main-json-parse' | 'worker-json-parse' | 'native-async';

interface Row {
  rows: number;
  bodyBytes: number;
  method: Method;
  concurrency: number;
  requests: number;
  mainThreadMsPerRequest: number;
  wallMsPerRequest: number;
}

function body(chunks: Float32Array[], rows: number): Buffer {
  const pick = Array.from({ length: rows }, (_, i) => Array.from(chunks[i % chunks.length]));
  return Buffer.from(JSON.stringify({
    inputs: [
      { name: 'input', shape: [rows, 1536], datatype: 'FP32', data: pick },
      { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
      { name: 'h', shape: [2, rows, 64], datatype: 'FP32', data: new Array(2 * rows * 64).fill(0) },
      { name: 'c', shape: [2, rows, 64], datatype: 'FP32', data: new Array(2 * rows * 64).fill(0) },
    ],
  }));
}

function mainDecode(b: Buffer): number {
  const doc = JSON.parse(b.toString('utf8')) as { inputs: { data: number[] }[] };
  return doc.inputs.map((i) => new Float32Array(i.data.flat(Infinity) as number[])).length;
}

async function measure(method: Method, b: Buffer, requests: number, concurrency: number, pool: Piscina): Promise<{ mainMs: number; wallMs: number }> {
  const one = async (): Promise<unknown> => {
    if (method === 'main-json-parse') return mainDecode(b);
    if (method === 'native-async') return decodeInferRequest(b, {});
    const copy = new Uint8Array(b); // the worker takes ownership of its copy
    return pool.run(copy, { transferList: [copy.buffer as ArrayBuffer] });
  };
  for (let i = 0; i < Math.min(20, requests); i++) await one(); // warm-up
  // ELU accounts a loop iteration when it ends: measure between two turns of the loop.
  await new Promise((r) => setImmediate(r));
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      next += 1;
      await one();
    }
  }));
  const wall = performance.now() - t0;
  await new Promise((r) => setImmediate(r));
  const elu = performance.eventLoopUtilization(elu0);
  return { mainMs: elu.active / requests, wallMs: wall / requests };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const root = findRepoRoot();
  const speech = loadSpeechChunks();
  const pool = new Piscina({ filename: path.join(__dirname, 'json-parse-worker.js'), minThreads: 2, maxThreads: 2 });
  const results: Row[] = [];
  for (const rows of [1, 64, 256]) {
    const b = body(speech.chunks, rows);
    const requests = Math.max(quick ? 10 : 40, Math.round((quick ? 2e6 : 2e7) / b.byteLength));
    for (const method of ['main-json-parse', 'worker-json-parse', 'native-async'] as Method[]) {
      for (const concurrency of [1, 4]) {
        const m = await measure(method, b, requests, concurrency, pool);
        results.push({ rows, bodyBytes: b.byteLength, method, concurrency, requests, mainThreadMsPerRequest: +m.mainMs.toFixed(4), wallMsPerRequest: +m.wallMs.toFixed(4) });
        console.log(`${rows} rows ${(b.byteLength / 1024).toFixed(0)} KiB ${method} c=${concurrency}: main ${m.mainMs.toFixed(3)} ms, wall ${m.wallMs.toFixed(3)} ms per request`);
      }
    }
  }
  await pool.destroy();
  const out = path.join(root, 'bench/results/json-decode');
  fs.mkdirSync(out, { recursive: true });
  const machine = collectMachineFacts(root);
  fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify({ scenario: 'json-decode', quick, machine, speech: { path: speech.path, sha256: speech.sha256 }, results }, null, 2) + '\n');
  const lines = [
    '# JSON decode: main thread vs worker vs native async',
    '',
    `Command: \`node dist/bench/decode/json-decode.js${quick ? ' --quick' : ''}\` · ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, load ${machine.loadAvg1m} · commit ${machine.git.commit ?? '?'}`,
    '',
    'Main-thread ms per request = event-loop utilisation (active time) / requests: the time the server cannot serve anything else.',
    '',
    '| rows | body KiB | method | concurrency | main-thread ms/req | wall ms/req |',
    '|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.rows} | ${(r.bodyBytes / 1024).toFixed(0)} | ${r.method} | ${r.concurrency} | ${r.mainThreadMsPerRequest} | ${r.wallMsPerRequest} |`),
    '',
  ];
  fs.writeFileSync(path.join(out, 'summary.md'), lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
