/**
 * Measurements of the native work (not a test): run after `npm run build` (and the addon):
 *
 *   node dist/scripts/measure-kernels.js [--quick] [--json out.json] [--version N]
 *
 * 1. GEMM kernels per variant at the flights model's first layer (real feature rows × its W0):
 *    GFLOP/s of the dense kernels and rows/s of the sparse-input path;
 * 2. the executor on the flights model: native int8 / fp32 vs onnxruntime-node fp32, rows/s
 *    at batch 64 and 256 (1 and 2 threads each), and the AUC on held-out February 2001 rows;
 * 3. the feature transform: native vs TypeScript per row at batch 256 (and 1, 64, 4096);
 * 4. resampling to 16 kHz: real-time factor.
 * Kernel figures are the best of repeated runs; executor and transform figures are medians
 * of interleaved rounds (every contender once per round, so that load from other processes
 * hits them alike). The machine, the kernels and the load average are printed with them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Columns, transform } from '../src/features';
import { formatNaive } from '../src/features/time';
import { readWav } from '../src/audio/wav';
import { resampleTo16kNativeSync } from '../src/native/audio';
import { PACKAGE_ROOT } from '../src/native/binding';
import { NativeModel, Precision } from '../src/native/executor';
import { NativeFeatureTransform } from '../src/native/features';
import { compileGraph } from '../src/runtime/graph-plan';
import { gemmF32, int8Gemm, kernelInfo, quantizeWeights } from '../src/native/kernels';
import { auc } from '../src/stats/classification';
import { cardData, loadLabeledRows, versionSpec } from '../src/quant/eval-data';
import { BatchRunner, measureThroughput, onnxRuntimeRunner, runAll } from '../src/quant/throughput';
import { floatInitializer, readOnnxFile } from '../src/runtime/onnx-model-reader';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const version = args.includes('--version') ? args[args.indexOf('--version') + 1] : '1';
const results: Record<string, unknown> = {};
const ROUNDS = quick ? 3 : 9;
const ROUND_SECONDS = quick ? 0.1 : 0.25;

/** Median and best of per-round rates. */
function stats(xs: number[]): { median: number; best: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], best: s[s.length - 1] };
}

function timeSync(fn: () => unknown, minMs = quick ? 100 : 300, reps = quick ? 3 : 7): number {
  for (let i = 0; i < 5; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let ns = 0n;
    while (ns < BigInt(minMs * 1e6) || n < 3) {
      fn();
      n++;
      ns = process.hrtime.bigint() - t0;
    }
    samples.push(Number(ns) / 1e3 / n);
  }
  return Math.min(...samples);
}

const fmt = (x: number, d = 1) => x.toFixed(d).padStart(9);

async function main(): Promise<void> {
  const dir = path.join(PACKAGE_ROOT, 'models/flights-delay', version);
  const file = path.join(dir, 'model.onnx');
  if (!fs.existsSync(file)) throw new Error(`${file} missing: train the model first (infera train pipelines/flights-delay.json)`);
  const cpu = os.cpus();
  results.machine = { cpu: cpu[0]?.model, cores: cpu.length, loadavg: os.loadavg(), kernels: kernelInfo(), node: process.version };
  console.log(`machine: ${cpu[0]?.model} x${cpu.length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; kernels f32 ${kernelInfo().gemmF32.selected}, int8 ${kernelInfo().int8Gemm.selected}`);

  const spec = versionSpec(dir);
  const data = cardData(dir, PACKAGE_ROOT);
  const feb = await loadLabeledRows(data, spec, { from: '2001-02-01', to: '2001-03-01' }, quick ? 20000 : 50000);
  const model = readOnnxFile(file);
  const W0 = floatInitializer(model, model.graph.nodes.find((n) => n.opType === 'Gemm' || n.opType === 'MatMul')!.inputs[1])!;
  const [K, N] = W0.dims;

  // 1. Kernels.
  console.log(`\n1. GEMM kernels, first layer [256 x ${K}] x [${K} x ${N}] (real rows, real W0)`);
  const M = 256;
  const A = feb.x.slice(0, M * K);
  const Wq = quantizeWeights(W0.data, K, N);
  const kernels: Record<string, unknown> = {};
  const flops = 2 * M * K * N;
  // µs of one kernel call: (time of `repeat` calls on once-packed weights − time of 1) / (repeat − 1).
  const REP = quick ? 5 : 20;
  const perCall = (run: (repeat: number) => unknown) => (timeSync(() => run(REP)) - timeSync(() => run(1))) / (REP - 1);
  for (const v of kernelInfo().gemmF32.usable) {
    for (const p of ['dense', 'sparse'] as const) {
      const us = perCall((repeat) => gemmF32(v, A, M, K, W0.data, N, { path: p, repeat }));
      kernels[`fp32/${v}/${p}`] = { us, gflops_equivalent: flops / us / 1e3 };
      console.log(`  fp32 ${v.padEnd(8)} ${p.padEnd(6)} ${fmt(us)} µs  ${fmt(flops / us / 1e3)} GFLOP/s dense-equivalent`);
    }
  }
  for (const v of kernelInfo().int8Gemm.usable) {
    for (const p of ['dense', 'sparse'] as const) {
      const us = perCall((repeat) => int8Gemm(v, A, M, K, Wq, N, { path: p, repeat }));
      kernels[`int8/${v}/${p}`] = { us, gops_equivalent: flops / us / 1e3 };
      console.log(`  int8 ${v.padEnd(8)} ${p.padEnd(6)} ${fmt(us)} µs  ${fmt(flops / us / 1e3)} GOP/s dense-equivalent (row quantization / scan included)`);
    }
  }
  results.kernels = kernels;

  // 2. Executor vs onnxruntime: every runner once per round, rounds interleaved, so that
  // load from other processes hits them alike; median and best round reported.
  console.log(`\n2. flights-delay v${version} (${K} inputs): rows/s, closed loop, one batch in flight (median | best of ${ROUNDS} interleaved rounds)`);
  const plan = compileGraph(model).plan;
  const executor: Record<string, unknown> = {};
  for (const threads of [1, 2]) {
    const ort = await onnxRuntimeRunner(file, threads);
    const runners: [string, BatchRunner][] = [['onnxruntime fp32', ort.run]];
    for (const precision of ['fp32', 'int8'] as Precision[]) {
      for (const sparse of [false, true]) {
        const m = NativeModel.create(plan, { precision, threads, sparseInputs: sparse });
        runners.push([`native ${precision} ${sparse ? 'sparse-input' : 'dense'}`, (x, n) => m.run([x], n)]);
      }
    }
    // The same on the calling thread: what the AsyncWorker hand-off costs (onnxruntime-node's
    // session.run computes on the calling thread too).
    const sync8 = NativeModel.create(plan, { precision: 'int8', threads });
    runners.push(['native int8 sparse-input, sync', async (x, n) => sync8.runSync([x], n)]);
    for (const batch of [64, 256]) {
      const rounds = new Map<string, number[]>(runners.map(([name]) => [name, []]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const [name, run] of runners) {
          const t = await measureThroughput(run, feb.x, feb.width, feb.rows, batch, { reps: 1, repSeconds: ROUND_SECONDS, warmup: r === 0 ? 30 : 3 });
          rounds.get(name)!.push(t.rows_per_second);
        }
      }
      const base = stats(rounds.get('onnxruntime fp32')!);
      console.log(`  batch ${batch}, ${threads} thread(s) per runner:`);
      for (const [name] of runners) {
        const st = stats(rounds.get(name)!);
        executor[`${name}/t${threads}/b${batch}`] = { ...st, vs_onnxruntime_median: st.median / base.median, rows_per_second_rounds: rounds.get(name) };
        console.log(`    ${name.padEnd(32)} ${fmt(st.median / 1e3, 0)}k | ${fmt(st.best / 1e3, 0)}k rows/s   ${(st.median / base.median).toFixed(2)}x onnxruntime (median)`);
      }
    }
    if (threads === 1) {
      const pOrt = await runAll(ort.run, feb.x, feb.width, feb.rows);
      const m8 = NativeModel.create(plan, { precision: 'int8' });
      const p8 = await runAll(async (x, n) => (await m8.run([x], n))[0], feb.x, feb.width, feb.rows);
      const [a0, a1] = [auc(feb.labels, pOrt), auc(feb.labels, p8)];
      executor.auc = { rows: feb.rows, window: feb.window, onnxruntime_fp32: a0, native_int8: a1, drop: a0 - a1 };
      console.log(`  AUC on ${feb.rows} held-out February rows: onnxruntime fp32 ${a0.toFixed(5)}, native int8 ${a1.toFixed(5)} (drop ${(a0 - a1).toFixed(5)})`);
    }
    await ort.release();
  }
  results.executor = executor;

  // 3. Feature transform.
  console.log(`\n3. feature transform, µs per row, median of ${ROUNDS} interleaved rounds (columns as read from DuckDB; ISO text as /predict sends)`);
  const native = NativeFeatureTransform.compile(spec);
  const prep: Record<string, unknown> = {};
  for (const rows of [1, 64, 256, 4096]) {
    const cols: Columns = {};
    for (const f of spec.inputs) {
      const c = feb.columns[f.name] as ArrayLike<string | number> & { slice(a: number, b: number): ArrayLike<string | number> };
      cols[f.name] = c.slice(0, rows);
    }
    const iso: Columns = { ...cols };
    for (const f of spec.inputs) if (f.type === 'timestamp') iso[f.name] = Array.from(cols[f.name] as ArrayLike<number>, (t) => formatNaive(t));
    const out = new Float32Array(rows * spec.width);
    for (const [form, c] of [['epoch ms', cols], ['ISO text', iso]] as const) {
      const calls = Math.max(2, Math.round(2048 / rows));
      const kinds: [string, () => unknown][] = [
        ['typescript', () => transform(spec, c)],
        ['native_new_tensor', () => native.transform(c)],
        ['native_reused_tensor', () => native.transform(c, { out })],
        ['native_reused_2threads', () => native.transform(c, { out, threads: 2 })],
      ];
      const per = new Map<string, number[]>(kinds.map(([k]) => [k, []]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const [k, fn] of kinds) {
          for (let i = 0; i < 3; i++) await fn();
          const t0 = process.hrtime.bigint();
          for (let i = 0; i < calls; i++) await fn();
          per.get(k)!.push(Number(process.hrtime.bigint() - t0) / 1e3 / calls / rows);
        }
      }
      const med = (k: string) => stats(per.get(k)!.map((x) => 1 / x)).median; // rows per µs
      const us = (k: string) => 1 / med(k);
      const row: Record<string, number> = {};
      for (const [k] of kinds) row[`${k}_us_per_row`] = us(k);
      prep[`${form}/b${rows}`] = { ...row, speedup_reused: us('typescript') / us('native_reused_tensor'), speedup_new: us('typescript') / us('native_new_tensor') };
      console.log(`  batch ${String(rows).padStart(4)} ${form.padEnd(8)}: TypeScript ${fmt(us('typescript'), 3)} | native, new tensor ${fmt(us('native_new_tensor'), 3)} (${(us('typescript') / us('native_new_tensor')).toFixed(1)}x) | reused tensor ${fmt(us('native_reused_tensor'), 3)} (${(us('typescript') / us('native_reused_tensor')).toFixed(1)}x), 2 threads ${fmt(us('native_reused_2threads'), 3)}`);
    }
  }
  results.features = prep;

  // 4. Resampling.
  const speech = readWav('/usr/share/sounds/linphone/hello8000.wav').samples;
  const us8 = timeSync(() => resampleTo16kNativeSync(speech, 8000));
  results.resample = { seconds_of_audio: speech.length / 8000, us: us8, realtime_factor: speech.length / 8000 / (us8 / 1e6) };
  console.log(`\n4. resample 8 kHz → 16 kHz: ${(speech.length / 8000).toFixed(1)} s of speech in ${(us8 / 1e3).toFixed(1)} ms (${(speech.length / 8000 / (us8 / 1e6)).toFixed(0)}x real time)`);

  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
