/**
 * Scenario `kernels`: the native addon's serving paths against what they replace, in
 * process, single-threaded, on real February 2001 flights:
 *   - the native MLP executor (fp32 and int8; src/native/executor.ts) vs onnxruntime-node
 *     (1 intra-op thread) on flights-delay at batch 64 and 256;
 *   - the native feature transform (src/native/features.ts) vs the TypeScript `transform`
 *     (src/features) at batch 256, ISO timestamps as /predict receives them.
 * Throughput comes from src/quant/throughput.ts (the measurement `infera quantize` uses);
 * answers are compared with onnxruntime / the TypeScript transform on every row.
 */
import * as path from 'node:path';
import { transform, validateRow, type Columns } from '../../src/features';
import { formatNaive } from '../../src/features/time';
import { NativeModel, type Precision } from '../../src/native/executor';
import { NativeFeatureTransform } from '../../src/native/features';
import { compileGraph } from '../../src/runtime/graph-plan';
import { kernelInfo } from '../../src/native/kernels';
import { measureThroughput, onnxRuntimeRunner, runAll, type BatchRunner } from '../../src/quant/throughput';
import { readOnnxFile } from '../../src/runtime/onnx-model-reader';
import { cpuSnapshot, cpuUsage } from '../lib/cpu';
import { flightsInputInfo, flightsModelFiles, flightsParquet, loadFebruaryFlights, loadSpec, maxAbsDiff, prepareTensor } from '../lib/flights';
import { pinProcess } from '../lib/pinning';
import { entry, type RatioInput } from '../lib/ratios';
import { assembleResult, startClock } from '../lib/result';
import { ratio, spread } from '../lib/stats';
import { oursRepository } from '../lib/targets';
import type { BenchResult, CeilingResult, InProcessResult, RatioEntry, RunOptions, Scenario, ScenarioContext, Section } from '../lib/types';

export const ORT = 'onnxruntime-node fp32';
export const NATIVE_FP32 = 'native executor fp32';
export const NATIVE_INT8 = 'native executor int8';
export const TS_TRANSFORM = 'TypeScript transform';
export const NATIVE_TRANSFORM = 'native transform';
export const TS_ROW = 'TypeScript validateRow + transform (one /predict row)';
export const NATIVE_ROW = 'native transformRow (one /predict row)';
export const MODEL_BATCHES = [64, 256];
export const TRANSFORM_BATCH = 256;

function find(r: RatioInput, label: string, batch: number): number | null {
  return r.inProcess?.ceilings.find((c) => c.label === label && c.batch === batch)?.rowsPerSec.median ?? null;
}

export function computeKernelRatios(r: RatioInput): RatioEntry[] {
  const out: RatioEntry[] = [];
  for (const b of MODEL_BATCHES) {
    for (const label of [NATIVE_FP32, NATIVE_INT8]) {
      const v = ratio(find(r, label, b), find(r, ORT, b));
      out.push(entry(`${label.replace(/\W+/g, '_')}_over_ort_b${b}`, `${label} ÷ ${ORT} rows/s @ batch ${b}, 1 thread`, 'x', 'median rows/s ÷ median rows/s', v, `${label} or ${ORT} not measured at batch ${b}`));
    }
  }
  out.push(
    entry(
      `native_transform_over_ts_b${TRANSFORM_BATCH}`,
      `${NATIVE_TRANSFORM} ÷ ${TS_TRANSFORM} rows/s @ batch ${TRANSFORM_BATCH}`,
      'x',
      'median rows/s ÷ median rows/s',
      ratio(find(r, NATIVE_TRANSFORM, TRANSFORM_BATCH), find(r, TS_TRANSFORM, TRANSFORM_BATCH)),
      'a transform was not measured',
    ),
    entry(
      'native_row_over_ts_row',
      `${NATIVE_ROW} ÷ ${TS_ROW} rows/s`,
      'x',
      'median rows/s ÷ median rows/s',
      ratio(find(r, NATIVE_ROW, 1), find(r, TS_ROW, 1)),
      'a row transform was not measured',
    ),
  );
  return out;
}

export const scenario: Scenario = {
  name: 'kernels',
  description:
    'Native addon vs what it replaces, in process, one thread, real February 2001 flights: the native MLP executor (fp32, int8) vs onnxruntime-node on flights-delay at batch 64 and 256, ' +
    'and the native feature transform vs the TypeScript transform at batch 256 and for one /predict row.',

  async run(opts: RunOptions, ctx: ScenarioContext): Promise<BenchResult> {
    const clock = startClock();
    const root = ctx.repoRoot;
    const files = flightsModelFiles(oursRepository(root));
    const flights = await loadFebruaryFlights(flightsParquet(root), 2048);
    const spec = loadSpec(files.featureSpec);
    const x = prepareTensor(spec, flights);
    const width = x.width;
    // the kernels are server work: run them on the server's core
    if (ctx.pinning.enabled && ctx.pinning.serverCpus) pinProcess(process.pid, ctx.pinning.serverCpus);
    const speed = { reps: opts.quick ? 3 : 7, repSeconds: opts.quick ? 0.15 : 0.4, warmup: 20 };
    const flags: string[] = [];
    const ceilings: CeilingResult[] = [];
    const accuracy: Section['rows'] = [];
    const cpu0 = cpuSnapshot();
    const record = (label: string, batch: number, samplesUs: number[]) => {
      const s = spread(samplesUs.map((us) => Math.round((batch * 1e6) / us)));
      ceilings.push({ label, workers: 1, batch, intraOpNumThreads: 1, durationS: speed.repSeconds * speed.reps, rowsPerSec: s });
      ctx.log(`  ${label} @ batch ${batch}: ${s.median} rows/s`);
    };
    const measure = async (label: string, run: BatchRunner, batch: number) => {
      try {
        const t = await measureThroughput(run, x.data, width, flights.rows, batch, speed);
        record(label, batch, t.samples_us);
      } catch (e) {
        flags.push(`${label} @ batch ${batch}: ${(e as Error).message.split('\n')[0]}`);
      }
    };

    // 1. model: onnxruntime vs the native executor
    ctx.log('model: onnxruntime-node vs native executor (1 thread)');
    const ort = await onnxRuntimeRunner(files.model, 1);
    const reference = await runAll(ort.run, x.data, width, flights.rows);
    for (const b of MODEL_BATCHES) await measure(ORT, ort.run, b);
    await ort.release();
    let kernels: ReturnType<typeof kernelInfo> | null = null;
    try {
      kernels = kernelInfo();
      const plan = compileGraph(readOnnxFile(files.model)).plan;
      for (const precision of ['fp32', 'int8'] as Precision[]) {
        const label = precision === 'fp32' ? NATIVE_FP32 : NATIVE_INT8;
        const m = NativeModel.create(plan, { precision, threads: 1 });
        const got = await runAll(async (a, n) => (await m.run([a], n))[0], x.data, width, flights.rows);
        const d = maxAbsDiff(got, reference);
        accuracy.push([label, `max |p − onnxruntime p| over ${flights.rows} rows`, d.toExponential(2)]);
        for (const b of MODEL_BATCHES) await measure(label, async (a, n) => m.run([a], n), b);
      }
    } catch (e) {
      flags.push(`native executor not measured: ${(e as Error).message.split('\n')[0]}`);
    }

    // 2. feature transform at batch 256, ISO timestamps (what /predict clients send)
    ctx.log(`feature transform @ batch ${TRANSFORM_BATCH}`);
    const n = TRANSFORM_BATCH;
    const groups = Math.floor(flights.rows / n);
    const cols: Columns[] = Array.from({ length: groups }, (_, g) => ({
      date: Array.from(flights.date.subarray(g * n, (g + 1) * n), (t) => formatNaive(t)),
      distance: flights.distance.subarray(g * n, (g + 1) * n),
      origin: flights.origin.slice(g * n, (g + 1) * n),
      destination: flights.destination.slice(g * n, (g + 1) * n),
    }));
    const timeTransform = async (label: string, fn: (c: Columns) => unknown) => {
      const samples: number[] = [];
      let k = 0;
      for (let i = 0; i < speed.warmup; i++) await fn(cols[k++ % groups]);
      for (let rep = 0; rep < speed.reps; rep++) {
        let calls = 0;
        const t0 = process.hrtime.bigint();
        let el = 0n;
        while (el < BigInt(Math.round(speed.repSeconds * 1e9)) || calls < 5) {
          await fn(cols[k++ % groups]);
          calls++;
          el = process.hrtime.bigint() - t0;
        }
        samples.push(Number(el) / 1e3 / calls);
      }
      record(label, n, samples);
    };
    await timeTransform(TS_TRANSFORM, (c) => transform(spec, c));
    try {
      const nt = NativeFeatureTransform.compile(spec);
      let worst = 0;
      for (const c of cols) worst = Math.max(worst, maxAbsDiff(nt.transformSync(c).data, transform(spec, c).data));
      accuracy.push([NATIVE_TRANSFORM, `max |native − TypeScript| over ${groups * n} rows × ${width} features`, worst.toExponential(2)]);
      const out = new Float32Array(n * width);
      await timeTransform(NATIVE_TRANSFORM, (c) => nt.transform(c, { out }));
    } catch (e) {
      flags.push(`native transform not measured: ${(e as Error).message.split('\n')[0]}`);
    }

    // 3. one /predict row, as the server gets it (a feature dict): validated and transformed
    ctx.log('feature transform of one /predict row');
    const rows = Array.from({ length: Math.min(flights.rows, 4096) }, (_, i) => ({ date: formatNaive(flights.date[i]), distance: flights.distance[i], origin: flights.origin[i], destination: flights.destination[i] }));
    const timeRow = (label: string, fn: (row: Record<string, unknown>) => unknown) => {
      const samples: number[] = [];
      let k = 0;
      for (let i = 0; i < 20_000; i++) fn(rows[k++ % rows.length]);
      for (let rep = 0; rep < speed.reps; rep++) {
        let calls = 0;
        const t0 = process.hrtime.bigint();
        let el = 0n;
        while (el < BigInt(Math.round(speed.repSeconds * 1e9))) {
          for (let j = 0; j < 256; j++) fn(rows[k++ % rows.length]);
          calls += 256;
          el = process.hrtime.bigint() - t0;
        }
        samples.push(Number(el) / 1e3 / calls);
      }
      record(label, 1, samples);
    };
    timeRow(TS_ROW, (row) => transform(spec, validateRow(spec, row)));
    try {
      const nt = NativeFeatureTransform.of(spec);
      let worst = 0;
      for (const row of rows) worst = Math.max(worst, maxAbsDiff(nt.transformRow(row).data, transform(spec, validateRow(spec, row)).data));
      accuracy.push([NATIVE_ROW, `max |native − TypeScript| over ${rows.length} single rows × ${width} features`, worst.toExponential(2)]);
      timeRow(NATIVE_ROW, (row) => nt.transformRow(row));
    } catch (e) {
      flags.push(`native row transform not measured: ${(e as Error).message.split('\n')[0]}`);
    }

    const inProcess: InProcessResult = {
      model: path.relative(root, files.model),
      what: 'one caller, one batch in flight (src/quant/throughput.ts measureThroughput); rows/s per repetition, median [min–max]',
      ceilings,
      singleRun: null,
      cpu: cpuUsage(cpu0, cpuSnapshot()),
    };
    const sections: Section[] = [{ title: 'Answers', columns: ['path', 'compared', 'value'], rows: accuracy }];
    if (kernels) {
      sections.push({
        title: 'Kernel variants on this CPU',
        columns: ['family', 'selected', 'usable'],
        rows: [
          ['fp32 GEMM', kernels.gemmF32.selected, kernels.gemmF32.usable.join(', ')],
          ['int8 GEMM', kernels.int8Gemm.selected, kernels.int8Gemm.usable.join(', ')],
        ],
      });
    }
    return assembleResult(
      {
        scenario: 'kernels',
        description: this.description,
        clock,
        input: flightsInputInfo(flights, `prepared tensors [rows × ${width}] and raw columns`, { featureWidth: width }),
        inProcess,
        targets: [],
        bodies: [],
        openLoopRate: null,
        settings: { modelBatches: MODEL_BATCHES, transformBatch: TRANSFORM_BATCH, threads: 1, speed },
        sections,
        flags,
        ratios: computeKernelRatios,
      },
      opts,
      ctx,
    );
  },
};
