/**
 * `infera quantize`: turns a trained fp32 version into an int8 version.
 *  1. calibration (real rows, default: the card's holdout window of its training source):
 *     each Gemm/MatMul is quantized alone and its AUC cost measured with the native executor;
 *     layers costing more than maxLayerAucDrop stay fp32, then the most costly int8 layers are
 *     dropped until the whole model is within maxAucDrop;
 *  2. the chosen layers' weights are written as int8 + DequantizeLinear (quantize-graph.ts);
 *  3. evaluation on held-out rows never used above (default: the first evaluation window):
 *     AUC and accuracy before (onnxruntime fp32, the served baseline) and after (native int8
 *     on the new file), plus speed at batch 64 and 256: native int8 vs native fp32 vs
 *     onnxruntime fp32;
 *  4. registration of the next version (atomic), card.json = the parent's card plus a
 *     `quantization` section with all of the above.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { atThreshold, auc } from '../stats/classification';
import { TimeWindow } from '../data/warehouse';
import { existingVersions, registerModel } from '../pipeline/register';
import { NativeModel } from '../native/executor';
import type { NativePlan } from '../native/executor';
import { compileGraph } from '../runtime/graph-plan';
import { kernelInfo } from '../native/kernels';
import { readOnnxModel } from '../runtime/onnx-model-reader';
import { cardData, LabeledRows, loadLabeledRows, versionSpec } from './eval-data';
import { encodeOnnxModel } from './onnx-model-writer';
import { QUANTIZATION_METADATA_KEY, quantizableLayers, quantizeLayers } from './quantize-graph';
import { measureThroughput, onnxRuntimeRunner, runAll, Throughput, ThroughputOptions } from './throughput';

export interface QuantizeOptions {
  repository: string;
  model: string;
  /** Source version; default the latest. */
  version?: number;
  /** Calibration rows: a data file with the training columns (default: the card's source). */
  calibrationFile?: string;
  calibrationWindow?: TimeWindow;
  calibrationRows?: number;
  evalWindow?: TimeWindow;
  evalRows?: number;
  maxAucDrop?: number;
  maxLayerAucDrop?: number;
  /** Threads of every runner in the speed measurement (native and onnxruntime alike). */
  threads?: number;
  speedBatches?: number[];
  /** Repetitions and their length (default 7 x 0.3 s; tests use less). */
  speed?: ThroughputOptions;
  dryRun?: boolean;
  log?: (line: string) => void;
}

export interface LayerReport {
  node: string;
  K: number;
  N: number;
  int8: boolean;
  calibration_auc_drop: number;
}

export interface QuantizeResult {
  version: number | null;
  dir: string | null;
  quantization: Record<string, unknown>;
}

type Card = Record<string, unknown> & { threshold?: number; time_range?: { holdout?: TimeWindow; evaluate?: (TimeWindow & { name?: string })[] } };

function native(plan: NativePlan, precision: 'fp32' | 'int8', threads: number, int8Steps?: Set<string>): NativeModel {
  const p: NativePlan = int8Steps
    ? { ...plan, steps: plan.steps.map((s) => (s.op === 'gemm' ? { ...s, precision: int8Steps.has(s.name) ? 'int8' as const : 'fp32' as const } : s)) }
    : plan;
  return NativeModel.create(p, { precision, threads });
}

async function predict(m: NativeModel, d: LabeledRows): Promise<Float32Array> {
  return runAll(async (x, n) => (await m.run([x], n))[0], d.x, d.width, d.rows);
}

function scores(d: LabeledRows, p: Float32Array, threshold: number) {
  return { auc: auc(d.labels, p), accuracy: atThreshold(d.labels, p, threshold).accuracy };
}

/**
 * Quantizes a version (see the file comment).
 * @returns the new version number and folder (null on a dry run) and the card's quantization section.
 * @throws Error when the model or version is missing, the graph cannot run natively, no layer
 *   fits the AUC bounds, or the data cannot be read.
 */
export async function quantizeVersion(opts: QuantizeOptions): Promise<QuantizeResult> {
  const log = opts.log ?? (() => undefined);
  const modelDir = path.join(opts.repository, opts.model);
  const versions = fs.existsSync(modelDir) ? existingVersions(modelDir) : [];
  if (versions.length === 0) throw new Error(`no versions of '${opts.model}' under ${opts.repository}`);
  const version = opts.version ?? versions[versions.length - 1];
  if (!versions.includes(version)) throw new Error(`'${opts.model}' has no version ${version} (has ${versions.join(', ')})`);
  const dir = path.join(modelDir, String(version));
  const srcFile = path.join(dir, 'model.onnx');
  const srcBytes = new Uint8Array(fs.readFileSync(srcFile));
  const model = readOnnxModel(srcBytes);
  const card = JSON.parse(fs.readFileSync(path.join(dir, 'card.json'), 'utf8')) as Card;
  const plan = compileGraph(model).plan;
  const layers = quantizableLayers(model);
  if (layers.length === 0) throw new Error(`${srcFile}: no Gemm/MatMul with an fp32 weight to quantize`);
  const threads = opts.threads ?? 1;
  const maxAucDrop = opts.maxAucDrop ?? 0.002;
  const maxLayerAucDrop = opts.maxLayerAucDrop ?? 0.001;
  const threshold = typeof card.threshold === 'number' ? card.threshold : 0.5;

  const data = cardData(dir, path.resolve(__dirname, '../../..'));
  const spec = versionSpec(dir);
  const calWindow = opts.calibrationWindow ?? card.time_range?.holdout;
  const evalWindow = opts.evalWindow ?? card.time_range?.evaluate?.[0];
  if (!calWindow || !evalWindow) throw new Error(`${dir}/card.json: time_range.holdout / evaluate missing; pass --calibration-window and --eval-window`);
  const calSource = opts.calibrationFile ? { ...data, source: path.resolve(opts.calibrationFile) } : data;
  log(`calibration: ${calSource.source} ${calWindow.from}..${calWindow.to}`);
  const cal = await loadLabeledRows(calSource, spec, calWindow, opts.calibrationRows ?? 20000);
  log(`evaluation: ${data.source} ${evalWindow.from}..${evalWindow.to}`);
  const ev = await loadLabeledRows(data, spec, { from: evalWindow.from, to: evalWindow.to }, opts.evalRows ?? 50000);

  // 1. Per-layer sensitivity on the calibration rows.
  const baseCal = auc(cal.labels, await predict(native(plan, 'fp32', threads), cal));
  const report: LayerReport[] = [];
  for (const l of layers) {
    const drop = baseCal - auc(cal.labels, await predict(native(plan, 'int8', threads, new Set([l.node])), cal));
    report.push({ node: l.node, K: l.K, N: l.N, int8: drop <= maxLayerAucDrop, calibration_auc_drop: drop });
    log(`  ${l.node} [${l.K} x ${l.N}]: calibration AUC drop ${drop.toFixed(5)}`);
  }
  let chosen = report.filter((r) => r.int8);
  let calDrop = 0;
  for (;;) {
    if (chosen.length === 0) throw new Error(`no layer of ${srcFile} can be int8 within an AUC drop of ${maxLayerAucDrop} per layer and ${maxAucDrop} in all`);
    calDrop = baseCal - auc(cal.labels, await predict(native(plan, 'int8', threads, new Set(chosen.map((c) => c.node))), cal));
    if (calDrop <= maxAucDrop) break;
    const worst = chosen.reduce((a, b) => (b.calibration_auc_drop > a.calibration_auc_drop ? b : a));
    worst.int8 = false;
    chosen = chosen.filter((c) => c !== worst);
  }

  // 2. The int8 file.
  const description = { method: 'per-output-channel symmetric int8 weights; dynamic per-row symmetric int8 activations (native backend)', layers: chosen.map((c) => c.node), source_version: version };
  const q = quantizeLayers(model, chosen.map((c) => c.node), { [QUANTIZATION_METADATA_KEY]: JSON.stringify(description) });
  const bytes = encodeOnnxModel(q.model);
  const qPlan = compileGraph(readOnnxModel(bytes)).plan;

  // 3. Held-out accuracy and speed.
  const ortSrc = await onnxRuntimeRunner(srcBytes, threads);
  const nFp32 = native(plan, 'fp32', threads);
  const nInt8 = native(qPlan, 'int8', threads);
  const pOrt = await runAll(ortSrc.run, ev.x, ev.width, ev.rows);
  const pFp32 = await predict(nFp32, ev);
  const pInt8 = await predict(nInt8, ev);
  let parity = 0;
  for (let i = 0; i < pOrt.length; i++) parity = Math.max(parity, Math.abs(pOrt[i] - pFp32[i]));
  const before = scores(ev, pOrt, threshold);
  const after = scores(ev, pInt8, threshold);
  const speed: Record<string, { onnxruntime_fp32: Throughput; native_fp32: Throughput; native_int8: Throughput }> = {};
  for (const b of opts.speedBatches ?? [64, 256]) {
    speed[b] = {
      onnxruntime_fp32: await measureThroughput(ortSrc.run, ev.x, ev.width, ev.rows, b, opts.speed),
      native_fp32: await measureThroughput((x, n) => nFp32.run([x], n), ev.x, ev.width, ev.rows, b, opts.speed),
      native_int8: await measureThroughput((x, n) => nInt8.run([x], n), ev.x, ev.width, ev.rows, b, opts.speed),
    };
    log(`  batch ${b}: rows/s onnxruntime ${speed[b].onnxruntime_fp32.rows_per_second.toFixed(0)}, native fp32 ${speed[b].native_fp32.rows_per_second.toFixed(0)}, native int8 ${speed[b].native_int8.rows_per_second.toFixed(0)}`);
  }
  await ortSrc.release();

  const quantization = {
    ...description,
    created_at: new Date().toISOString(),
    layers: report,
    bytes: { before: srcBytes.byteLength, after: bytes.byteLength },
    calibration: { source: calSource.source, window: calWindow, rows: cal.rows, auc_fp32: baseCal, auc_drop: calDrop, max_auc_drop: maxAucDrop, max_layer_auc_drop: maxLayerAucDrop },
    evaluation: {
      source: data.source, window: { from: evalWindow.from, to: evalWindow.to }, rows: ev.rows, threshold,
      before: { runtime: 'onnxruntime fp32 (parent version)', ...before },
      after: { runtime: 'native int8 (this version)', ...after },
      auc_drop: before.auc - after.auc,
      retention: { auc: after.auc / before.auc, accuracy: after.accuracy / before.accuracy },
      native_fp32_vs_onnxruntime_max_abs_diff: parity,
    },
    speed: {
      method: `closed loop, one batch in flight, in process, ${threads} thread(s) per runner, median of ${opts.speed?.reps ?? 7} x ${opts.speed?.repSeconds ?? 0.3} s; native runners use the sparse-input kernels (same bits as dense) when rows are mostly zeros`,
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, kernels: kernelInfo() },
      batches: Object.fromEntries(Object.entries(speed).map(([b, s]) => [b, {
        rows_per_second: { onnxruntime_fp32: s.onnxruntime_fp32.rows_per_second, native_fp32: s.native_fp32.rows_per_second, native_int8: s.native_int8.rows_per_second },
        ratio: { int8_vs_native_fp32: s.native_int8.rows_per_second / s.native_fp32.rows_per_second, int8_vs_onnxruntime: s.native_int8.rows_per_second / s.onnxruntime_fp32.rows_per_second },
      }])),
    },
  };
  if (opts.dryRun) return { version: null, dir: null, quantization };

  const modelJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const inherited = Object.keys(card).filter((k) => !['name', 'version', 'parent_version', 'created_at', 'onnx'].includes(k));
  const files: Record<string, Uint8Array | string> = { 'model.onnx': bytes, 'feature_spec.json': fs.readFileSync(path.join(dir, 'feature_spec.json'), 'utf8') };
  const reg = registerModel({
    repository: opts.repository, name: opts.model, modelJson, files,
    card: {
      ...card,
      created_at: quantization.created_at,
      onnx: { ...(card.onnx as object), bytes: bytes.byteLength, precision: 'int8' },
      inherited_from_parent: { version, fields: inherited, note: 'measured on the fp32 parent; quantization.evaluation holds this version\'s own accuracy' },
      quantization,
    },
  });
  return { version: reg.version, dir: reg.dir, quantization };
}
