/**
 * `infera train`: ingest → validate → features → train (MLP or GBDT + logistic baseline) →
 * evaluate → gates → ONNX export + onnxruntime parity check → register.
 * Any failing stage throws a PipelineError naming the stage; nothing is registered
 * unless every stage and every gate passed.
 */
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { Columns, featureSpecHash, fitFeatures, FeatureSpec, parseTimestamp, serializeFeatureSpec, sliceColumns, transform, transformSparse } from '../features';
import { auc, bestF1Threshold, evaluate, expectedCalibrationError, logLoss } from '../stats/classification';
import { checkGates, formatGates, GateResult, WindowMetrics } from './gates';
import { ColumnKind, ingest, IngestResult, quoteIdent, readColumns, readerSql, TimeWindow, Warehouse } from '../data/warehouse';
import { addOnlineColumns } from '../features/online-sql';
import { concatCsr, createNetwork, CsrMatrix, fromSparseRows, Network, predict, sigmoid } from './network';
import { categoricalColumns, exportGbdtOnnx, GBDT_ML_OPSET, gbdtColumns, gbdtMatrix, GbdtModel, gbdtProbabilities, gbdtRawScores, plattFolded, trainGbdt } from './gbdt';
import { fitPlatt } from './calibration';
import { bestTrial, drawTrials, Trial } from './search';
import type { GbdtOptions } from '../native/gbdt';
import { exportOnnx } from './onnx-writer';
import { GbdtParams, loadPipelineConfig, ModelParams, onlineFeaturesOf, PipelineConfig, primaryModel, validationRows } from './pipeline-config';
import { buildProfile } from './profile';
import { progressReporter, ProgressOptions } from './progress';
import { registerModel, servingModelJson } from './register';
import { chooseServingBackend } from './serving-backend';
import { train, TrainHistory } from './trainer';
import { assertValid, formatReport, validateTable } from './validate';

export type Stage = 'config' | 'ingest' | 'validate' | 'features' | 'train' | 'evaluate' | 'gates' | 'export' | 'register';

export class PipelineError extends Error {
  constructor(readonly stage: Stage, message: string, readonly details?: { gates?: GateResult[]; metrics?: Record<string, WindowMetrics> }) {
    super(`pipeline failed at ${stage}: ${message}`);
    this.name = 'PipelineError';
  }
}

export interface RunOptions {
  pipelineFile: string;
  /** Model repository root (default: models/ of the current directory). */
  repository: string;
  /** Cap on the rows read per window (deterministic, time-spread subset). */
  rowsLimit?: number;
  /** Overrides the seed of both models (MLP or GBDT, and the baseline). */
  seed?: number;
  /** Overrides the MLP's epochs. */
  epochs?: number;
  /** Run everything but register nothing. */
  dryRun?: boolean;
  log?: (line: string) => void;
  progress?: ProgressOptions | false;
}

export interface RunResult {
  registered: boolean;
  version: number | null;
  dir: string | null;
  card: Record<string, unknown>;
  gates: GateResult[];
}

const CHUNK_ROWS = 65_536;
const TABLE = 'source_rows';

function labelOf(cfg: PipelineConfig, v: number): number {
  const t = cfg.label.value;
  switch (cfg.label.op) {
    case '>': return v > t ? 1 : 0;
    case '>=': return v >= t ? 1 : 0;
    case '<': return v < t ? 1 : 0;
    case '<=': return v <= t ? 1 : 0;
    case '==': return v === t ? 1 : 0;
  }
}

/** git HEAD of the working directory and whether tracked files differ, or null outside git. */
export function codeCommit(cwd: string): { commit: string; dirty: boolean } | null {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return null;
  }
}

/** A path relative to the working directory when inside it (cards stay machine-independent). */
function portablePath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/** A window's rows: CSR inputs of the networks and, when the pipeline trains GBDT, its matrix. */
interface WindowData { columns: Columns; labels: Uint8Array; x: CsrMatrix; g: Float32Array | null; rows: number }

type ModelName = 'mlp' | 'gbdt' | 'baseline';

/** Rows [0, n) of a row-major matrix whose row i is kept when keep(i). */
function pickRows(x: Float32Array, cols: number, n: number, keep: (i: number) => boolean): Float32Array {
  let k = 0;
  for (let i = 0; i < n; i++) if (keep(i)) k++;
  const out = new Float32Array(k * cols);
  for (let i = 0, o = 0; i < n; i++) if (keep(i)) out.set(x.subarray(i * cols, (i + 1) * cols), cols * o++);
  return out;
}

export async function runPipeline(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const lap = (k: string, since: number) => (timings[k] = Math.round(performance.now() - since) / 1000);
  const stage = async <T>(s: Stage, f: () => Promise<T> | T): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof PipelineError) throw e;
      throw new PipelineError(s, (e as Error).message);
    }
  };

  const { config: cfg, sourcePath } = await stage('config', () => loadPipelineConfig(opts.pipelineFile));
  const primary = primaryModel(cfg);
  const seed = opts.seed !== undefined ? { seed: opts.seed } : {};
  const mlpParams: ModelParams | null = cfg.models.mlp && primary === 'mlp' ? { ...cfg.models.mlp, ...seed, ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}) } : null;
  const gbdtParams: GbdtParams | null = cfg.model?.type === 'gbdt' ? { ...cfg.model, ...seed } : null;
  const baseParams: ModelParams = { ...cfg.models.baseline, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) };
  const windows: (TimeWindow & { name: string })[] = [{ name: 'holdout', ...cfg.windows.holdout }, ...cfg.windows.evaluate];
  const all = [cfg.windows.train, ...windows];
  const span: TimeWindow = { from: all.map((w) => w.from).sort()[0], to: all.map((w) => w.to).sort().reverse()[0] };
  // Online aggregates are numeric inputs computed from the source's past events (identity
  // transform unless features.numeric lists them with others).
  const online = onlineFeaturesOf(cfg, opts.pipelineFile);
  const numeric = [...cfg.features.numeric, ...(online?.features ?? []).filter((f) => !cfg.features.numeric.some((n) => n.name === f.name)).map((f) => ({ name: f.name }))];
  const inputs = [cfg.timestamp, ...numeric.map((n) => n.name), ...cfg.features.categorical.map((c) => c.name)];
  const kinds: Record<string, ColumnKind> = { [cfg.timestamp]: 'epoch_ms' };
  for (const n of numeric) kinds[n.name] = 'number';
  for (const c of cfg.features.categorical) kinds[c.name] = 'string';
  kinds[cfg.label.column] ??= 'number';

  const wh = await stage('ingest', () => Warehouse.open());
  try {
    // 1. Ingest the span of all windows.
    let t = performance.now();
    log(`ingest ${path.relative(process.cwd(), sourcePath) || sourcePath} [${span.from}, ${span.to})`);
    const ingested: IngestResult = await stage('ingest', () => ingest(wh, sourcePath, TABLE, { timestamp: cfg.timestamp, window: span }));
    log(`  ${ingested.rows} of ${ingested.source.total_rows} rows, sha256 ${ingested.source.sha256.slice(0, 16)}…`);
    lap('ingest_s', t);

    // 2. Validate.
    t = performance.now();
    const report = await stage('validate', () => validateTable(wh, TABLE, cfg.validation));
    log(formatReport(report));
    await stage('validate', () => assertValid(report));
    lap('validate_s', t);

    // 2b. Online features, point-in-time correct: events from the source file, from the
    // longest window before the span on (so the first rows see their full history).
    if (online) {
      t = performance.now();
      const longest = Math.max(...online.features.map((f) => f.window_ms));
      const [lo, hi] = [parseTimestamp(span.from) - longest, parseTimestamp(span.to)];
      const ts = quoteIdent(cfg.timestamp);
      await stage('features', () => addOnlineColumns(wh, TABLE, `(SELECT * FROM ${readerSql(sourcePath)} WHERE epoch_ms(${ts}) >= ${lo} AND epoch_ms(${ts}) < ${hi})`, online));
      log(`online features: ${online.features.map((f) => f.name).join(', ')} (as of each row's ${cfg.timestamp} − ${cfg.online_features!.available_after})`);
      lap('online_features_s', t);
    }

    const load = async (w: TimeWindow): Promise<{ columns: Columns; labels: Uint8Array; rows: number }> => {
      const { columns, rows } = await readColumns(wh, TABLE, kinds, { timestamp: cfg.timestamp, window: w, limit: opts.rowsLimit });
      const y = columns[cfg.label.column] as Float64Array;
      const missing = y.reduce((n, v) => n + (Number.isNaN(v) ? 1 : 0), 0);
      if (missing) throw new Error(`${missing} rows of [${w.from}, ${w.to}) have no '${cfg.label.column}' (the label)`);
      return { columns: columns as Columns, labels: Uint8Array.from(y, (v) => labelOf(cfg, v)), rows };
    };
    const features = (spec: FeatureSpec, d: { columns: Columns; rows: number }): { x: CsrMatrix; g: Float32Array | null; unknown: number } => {
      const parts: CsrMatrix[] = [];
      const gcols = gbdtColumns(spec);
      const g = primary === 'gbdt' ? new Float32Array(d.rows * gcols.length) : null;
      let unknown = 0;
      for (let s = 0; s < d.rows; s += CHUNK_ROWS) {
        const r = transformSparse(spec, sliceColumns(d.columns, inputs, s, Math.min(d.rows, s + CHUNK_ROWS)));
        unknown += r.unknownCategories;
        parts.push(fromSparseRows(r));
        g?.set(gbdtMatrix(gcols, r), s * gcols.length);
      }
      return { x: concatCsr(parts, spec.width), g, unknown };
    };

    // 3. Features, fitted on the training window only.
    t = performance.now();
    const trainRaw = await stage('features', () => load(cfg.windows.train));
    if (trainRaw.rows === 0) throw new PipelineError('features', `no rows in the training window [${cfg.windows.train.from}, ${cfg.windows.train.to})`);
    const spec = await stage('features', () => fitFeatures(trainRaw.columns, { ...cfg.features, numeric, window: cfg.windows.train, ...(online ? { online } : {}) }));
    const specText = serializeFeatureSpec(spec);
    const specHash = featureSpecHash(spec);
    const trainFeatures = features(spec, trainRaw);
    const trainData: WindowData = { ...trainRaw, x: trainFeatures.x, g: trainFeatures.g };
    log(`features: width ${spec.width}, ${trainData.rows} training rows, spec sha256 ${specHash.slice(0, 16)}…`);
    lap('features_s', t);

    // 4. Train the baseline and the MLP or the GBDT.
    t = performance.now();
    const gcols = gbdtColumns(spec);
    const fit = (label: string, p: ModelParams): { net: Network; history: TrainHistory } => {
      const net = createNetwork(spec.width, p.hidden, p.seed);
      const bar = opts.progress === false ? null : progressReporter(label, opts.progress);
      const history = train(net, trainData.x, trainData.labels, p, bar?.onProgress);
      bar?.end();
      log(`  ${label}: ${history.epochs.length} epochs in ${history.seconds.toFixed(1)} s, ${Math.round(history.rows_per_second)} rows/s, final loss ${history.epochs[history.epochs.length - 1].loss.toFixed(4)}`);
      return { net, history };
    };
    // GBDT: the validation rows (whole days spread over the training window, or one stretch of
    // it) pick the number of trees, score the search and fit the calibration; the others are fitted.
    const fitGbdt = (p: GbdtParams) => {
      const { type: _type, early_stopping_window: _esw, validation_days: _vd, calibration, search, ...options } = p;
      const vr = validationRows(cfg.windows.train, p);
      const ts = trainData.columns[cfg.timestamp] as Float64Array;
      const held = (i: number) => (vr ? vr.held(ts[i]) : false);
      const cols = gcols.length;
      const n = trainData.rows;
      const fitX = pickRows(trainData.g!, cols, n, (i) => !held(i));
      const fitY = trainData.labels.filter((_, i) => !held(i));
      const validX = pickRows(trainData.g!, cols, n, held);
      const validY = trainData.labels.filter((_, i) => held(i));
      const heldName = vr && 'days' in vr.describe ? `model.validation_days (${vr.describe.days.join(', ')})` : 'model.early_stopping_window';
      if (fitY.length === 0) throw new Error(`no training rows outside ${heldName}`);
      if (vr && validY.length === 0) throw new Error(`no training rows inside ${heldName}`);
      if (vr) log(`  validation rows: ${validY.length} of ${n} training rows held out of the fit (${'days' in vr.describe ? `days ${vr.describe.days.join(', ')}` : `[${vr.describe.early_stopping_window.from}, ${vr.describe.early_stopping_window.to})`}), label rate ${(validY.reduce((a, b) => a + b, 0) / validY.length).toFixed(4)} vs ${(fitY.reduce((a, b) => a + b, 0) / fitY.length).toFixed(4)} fitted`);
      const fitData = { x: fitX, rows: fitY.length, cols, y: fitY, categorical: categoricalColumns(gcols) };
      const valid = vr ? { x: validX, rows: validY.length, y: validY } : undefined;
      // Random search: every trial fits and is scored on the same training-window rows; the
      // best trial's model is kept (no refit), its parameters recorded as the ones used.
      let chosen: Partial<GbdtOptions> = {};
      let trials: Trial[] | null = null;
      let fitted: GbdtModel | null = null;
      const t0 = performance.now();
      if (search) {
        trials = [];
        let bestAuc = -Infinity;
        const draws = drawTrials(search);
        for (const [k, params] of draws.entries()) {
          const t1 = performance.now();
          const m = trainGbdt(fitData, { ...options, ...params, valid });
          const validAuc = auc(validY, gbdtProbabilities(m, validX, validY.length));
          trials.push({ params, valid_auc: validAuc, trees: m.trees.length, seconds: (performance.now() - t1) / 1000 });
          log(`  search trial ${k + 1}/${draws.length}: ${JSON.stringify(params, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v))} → validation AUC ${validAuc.toFixed(4)}, ${m.trees.length} trees`);
          if (validAuc > bestAuc) [bestAuc, fitted, chosen] = [validAuc, m, params];
        }
        log(`  search: trial ${trials.indexOf(bestTrial(trials)) + 1} chosen on the validation rows only`);
      } else {
        fitted = trainGbdt(fitData, { ...options, valid });
      }
      let model: GbdtModel = fitted!; // set by every path above (a search has ≥ 1 trial)
      // The kept model's own training time (a search's total is in the trials).
      const seconds = trials ? bestTrial(trials).seconds : (performance.now() - t0) / 1000;
      // Platt scaling on the same held-out rows, folded into the trees: what is served is calibrated.
      let platt: Record<string, unknown> | null = null;
      let map: { a: number; b: number } | null = null;
      if (calibration === 'platt') {
        const z = gbdtRawScores(model, validX, validY.length);
        const before = gbdtProbabilities(model, validX, validY.length);
        const fitted = fitPlatt(z, validY);
        model = plattFolded(model, fitted);
        map = fitted;
        const after = gbdtProbabilities(model, validX, validY.length);
        platt = {
          method: 'platt', ...vr!.describe, rows: validY.length, a: fitted.a, b: fitted.b,
          before: { log_loss: logLoss(validY, before), ece: expectedCalibrationError(validY, before) },
          after: { log_loss: logLoss(validY, after), ece: expectedCalibrationError(validY, after) },
        };
        log(`  calibration: Platt a ${fitted.a.toFixed(4)}, b ${fitted.b.toFixed(4)} on ${validY.length} rows: ECE ${(platt.before as { ece: number }).ece.toFixed(4)} → ${(platt.after as { ece: number }).ece.toFixed(4)}, log loss ${(platt.before as { log_loss: number }).log_loss.toFixed(4)} → ${(platt.after as { log_loss: number }).log_loss.toFixed(4)}`);
      }
      const iterations = model.trainLoss.length;
      const rate = (fitY.length * iterations) / seconds;
      const best = model.bestIteration;
      log(`  gbdt: ${model.trees.length} trees kept of ${iterations} in ${seconds.toFixed(1)} s, ${Math.round(rate)} rows/s (row-iterations), ${fitY.length} rows fitted` +
        (vr ? `, ${validY.length} validation rows: AUC ${model.validAuc[best].toFixed(4)}, log loss ${model.validLoss[best].toFixed(4)}` : ''));
      const history = {
        ...(trials ? { search: { method: 'random', trials: trials.length, seed: search!.seed, space: search!.space, results: trials, chosen } } : {}),
        trees: model.trees.length, iterations, best_iteration: best, seconds, rows_per_second: rate, fit_rows: fitY.length, early_stopping_rows: validY.length,
        validation: vr ? { ...vr.describe, rows: validY.length, positives: validY.reduce((a, b) => a + b, 0) } : null,
        train_loss: Array.from(model.trainLoss), valid_loss: Array.from(model.validLoss), valid_auc: Array.from(model.validAuc),
        feature_gain: Object.fromEntries(gcols.map((c, i) => [c.name ?? `column ${i}`, model.featureGain[i]])),
        calibration: platt,
      };
      // The validation rows scored by the served (calibrated) model: a gate can hold them.
      const validation = vr ? { labels: validY, p: gbdtProbabilities(model, validX, validY.length) } : null;
      return { model, platt: map, validation, history, params: { ...p, ...chosen } };
    };
    log(`train on [${cfg.windows.train.from}, ${cfg.windows.train.to}): baseline (logistic) and ${primary === 'mlp' ? `MLP ${JSON.stringify(mlpParams!.hidden)}` : 'GBDT'}`);
    const baseline = await stage('train', () => fit('baseline', baseParams));
    const mlp = mlpParams ? await stage('train', () => fit('mlp', mlpParams)) : null;
    const gbdt = gbdtParams ? await stage('train', () => fitGbdt(gbdtParams)) : null;
    lap('train_s', t);
    const score = (m: ModelName, d: { x: CsrMatrix; g: Float32Array | null; rows: number }): Float32Array =>
      m === 'baseline' ? predict(baseline.net, d.x) : m === 'mlp' ? predict(mlp!.net, d.x) : gbdtProbabilities(gbdt!.model, d.g!, d.rows);

    // 5. Evaluate: threshold from the holdout week, then every window.
    t = performance.now();
    const metrics: Record<string, WindowMetrics> = { [primary]: {}, baseline: {} };
    const rows: Record<string, number> = { train: trainData.rows };
    const unknownCategories: Record<string, number> = {};
    const thresholds: Record<string, number> = { [primary]: 0.5, baseline: 0.5 };
    // The GBDT before calibration, per window (what calibration changed, measured on the same rows).
    const uncalibratedMetrics: Record<string, { log_loss: number; ece: number; mean_probability: number }> = {};
    const mean = (p: ArrayLike<number>) => { let s = 0; for (let i = 0; i < p.length; i++) s += p[i]; return s / p.length; };
    // The model the version serves: the MLP or GBDT, or (export.model "baseline") the logistic baseline.
    const exported: ModelName = cfg.export?.model ?? primary;
    let holdout: { columns: Columns; rows: number; pred: Record<string, Float32Array> } | null = null;
    for (const w of windows) {
      const d = await stage('evaluate', () => load(w));
      if (d.rows === 0) throw new PipelineError('evaluate', `no rows in window '${w.name}' [${w.from}, ${w.to})`);
      const { x, g, unknown } = features(spec, d);
      // A calibrated GBDT's raw score is a·z + b of the uncalibrated one's z: one pass of the trees gives both.
      const raw = gbdt?.platt ? gbdtRawScores(gbdt.model, g!, d.rows) : null;
      const pm = raw ? Float32Array.from(raw, sigmoid) : score(primary, { x, g, rows: d.rows });
      const pb = score('baseline', { x, g, rows: d.rows });
      if (w.name === 'holdout') {
        const th = cfg.threshold;
        thresholds[primary] = th && 'fixed' in th ? th.fixed : bestF1Threshold(d.labels, pm);
        thresholds.baseline = th && 'fixed' in th ? th.fixed : bestF1Threshold(d.labels, pb);
        holdout = { columns: d.columns, rows: d.rows, pred: { [primary]: pm, baseline: pb } };
      }
      metrics[primary][w.name] = evaluate(d.labels, pm, thresholds[primary]);
      metrics.baseline[w.name] = evaluate(d.labels, pb, thresholds.baseline);
      rows[w.name] = d.rows;
      unknownCategories[w.name] = unknown;
      const [m, b] = [metrics[primary][w.name], metrics.baseline[w.name]];
      let before = '';
      if (raw) {
        const platt = gbdt!.platt!;
        const pu = Float32Array.from(raw, (z) => sigmoid((z - platt.b) / platt.a));
        const u = (uncalibratedMetrics[w.name] = { log_loss: logLoss(d.labels, pu), ece: expectedCalibrationError(d.labels, pu), mean_probability: mean(pu) });
        before = ` (uncalibrated ${u.log_loss.toFixed(4)}, ECE ${u.ece.toFixed(4)}, mean p ${u.mean_probability.toFixed(4)})`;
      }
      log(`  ${w.name.padEnd(8)} ${String(d.rows).padStart(7)} rows  rate ${m.base_rate.toFixed(4)}  AUC ${primary} ${m.auc.toFixed(4)} / baseline ${b.auc.toFixed(4)}  log loss ${m.log_loss.toFixed(4)} / ${b.log_loss.toFixed(4)}  ECE ${m.ece.toFixed(4)} / ${b.ece.toFixed(4)}  mean p ${mean(pm).toFixed(4)} / ${mean(pb).toFixed(4)}${before}  P/R@${thresholds[primary].toFixed(3)} ${m.precision.toFixed(3)}/${m.recall.toFixed(3)}`);
    }
    // The GBDT's validation rows (held out of the fit; calibrated on them when calibration is on).
    if (gbdt?.validation) {
      const v = gbdt.validation;
      metrics[primary].validation = evaluate(v.labels, v.p, thresholds[primary]);
      rows.validation = v.labels.length;
      const m = metrics[primary].validation;
      log(`  validation ${String(m.rows).padStart(5)} rows  rate ${m.base_rate.toFixed(4)}  AUC ${primary} ${m.auc.toFixed(4)}  log loss ${m.log_loss.toFixed(4)}  ECE ${m.ece.toFixed(4)}  mean p ${mean(v.p).toFixed(4)} (rows held out of the fit, inside the training window)`);
    }
    lap('evaluate_s', t);

    // 6. Gates.
    const gates = checkGates(cfg, metrics[exported], metrics.baseline, exported);
    log(`gates:\n${formatGates(gates)}`);

    // 7. ONNX export, checked against the trainer's forward pass on held-out rows.
    t = performance.now();
    const exp = { opset: 13, check_rows: 4096, tolerance: 1e-5, ...cfg.export };
    const commit = codeCommit(path.dirname(path.resolve(opts.pipelineFile)));
    const what = exported === 'mlp' ? `MLP ${JSON.stringify(mlpParams!.hidden)}` : exported === 'gbdt' ? `GBDT of ${gbdt!.model.trees.length} trees` : 'logistic baseline';
    const meta = { opset: exp.opset, producerVersion: commit?.commit ?? 'unknown', docString: `${cfg.name}: ${what} over feature spec ${specHash}`, metadata: { feature_spec_sha256: specHash } };
    const onnx = exported === 'gbdt' ? exportGbdtOnnx(gbdt!.model, gcols, spec.width, meta) : exportOnnx(exported === 'mlp' ? mlp!.net : baseline.net, meta);
    const h = holdout!;
    const n = Math.min(exp.check_rows, h.rows);
    const dense = transform(spec, sliceColumns(h.columns, inputs, 0, n));
    const maxDiff = await stage('export', async () => {
      const session = await ort.InferenceSession.create(onnx);
      try {
        const out = await session.run({ features: new ort.Tensor('float32', dense.data, [n, spec.width]) });
        const got = out.probability.data as Float32Array;
        if (got.length !== n || out.probability.dims.join() !== `${n},1`) throw new Error(`onnxruntime output has dims [${out.probability.dims}], expected [${n},1]`);
        let worst = 0;
        for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] - h.pred[exported][i]));
        return worst;
      } finally {
        await session.release();
      }
    });
    log(`export: ONNX opset ${exp.opset}${exported === 'gbdt' ? ` + ai.onnx.ml ${GBDT_ML_OPSET}` : ''}, ${onnx.length} bytes; onnxruntime vs trainer on ${n} holdout rows: max |diff| ${maxDiff.toExponential(2)} (tolerance ${exp.tolerance})`);
    if (!(maxDiff <= exp.tolerance)) throw new PipelineError('export', `onnxruntime differs from the trainer by ${maxDiff} > ${exp.tolerance}`);
    const serving = await stage('export', async () => chooseServingBackend({
      requested: cfg.serving?.backend ?? 'auto', onnx, rows: dense.data, count: n, expected: h.pred[exported], tolerance: exp.tolerance, modelDir: path.join(opts.repository, cfg.name),
    }));
    log(`serving backend: ${serving.backend} (${serving.reason})`);
    lap('export_s', t);

    const failed = gates.filter((g) => !g.passed);
    if (failed.length) throw new PipelineError('gates', `${failed.length} quality gate(s) failed; nothing registered:\n${formatGates(failed)}`, { gates, metrics });

    // 8. Card with lineage and the drift baseline, then registration.
    const profile = buildProfile(spec, trainData.columns, score(exported, trainData), { window: 'train', bins: cfg.profile?.bins, topK: cfg.profile?.top_k, labels: trainData.labels });
    const card: Record<string, unknown> = {
      description: cfg.description,
      created_at: new Date().toISOString(),
      pipeline: { file: portablePath(path.resolve(opts.pipelineFile)), config: cfg, rows_limit: opts.rowsLimit ?? null },
      source: { ...ingested.source, path: portablePath(sourcePath), path_in_pipeline: cfg.source.path },
      rows: { ingested: ingested.rows, ...rows },
      time_range: { ingested: ingested.time_range, span, train: cfg.windows.train, holdout: cfg.windows.holdout, evaluate: cfg.windows.evaluate },
      label: cfg.label,
      validation: { ok: report.ok, checks: report.checks },
      feature_spec: spec,
      feature_spec_sha256: specHash,
      training: {
        ...(mlp ? { mlp: { params: mlpParams, history: mlp.history } } : {}),
        ...(gbdt ? { gbdt: { params: gbdt.params, history: gbdt.history } } : {}),
        baseline: { params: baseParams, history: baseline.history },
      },
      exported_model: exported,
      threshold: thresholds[exported],
      metrics: metrics[exported],
      baseline_metrics: metrics.baseline,
      // The GBDT's figures before its calibration, per window (null without calibration).
      uncalibrated_metrics: gbdt?.platt ? uncalibratedMetrics : null,
      // An externally measured model to compare against, per window (from the pipeline file).
      reference: cfg.reference ?? null,
      unknown_categories: unknownCategories,
      gates,
      onnx: { opset: exp.opset, ...(exported === 'gbdt' ? { ml_opset: GBDT_ML_OPSET } : {}), bytes: onnx.length, input: 'features', output: 'probability', width: spec.width, parity: { rows: n, max_abs_diff: maxDiff, tolerance: exp.tolerance } },
      serving_backend: serving,
      profile,
      code: commit,
      timings,
    };
    if (opts.dryRun) {
      log('dry run: nothing registered');
      return { registered: false, version: null, dir: null, card, gates };
    }
    const labels = (cfg.label.names ?? ['negative', 'positive']) as [string, string];
    lap('total_s', t0);
    const reg = await stage('register', () => registerModel({
      repository: opts.repository,
      name: cfg.name,
      files: { 'model.onnx': onnx, 'feature_spec.json': specText },
      card,
      modelJson: servingModelJson({ name: cfg.name, inputFields: spec.inputs.map((i) => i.name).filter((n) => !online?.features.some((f) => f.name === n)), labels, threshold: thresholds[exported], maxBatchSize: cfg.serving?.max_batch_size ?? 256, maxQueueDelayMs: cfg.serving?.max_queue_delay_ms ?? 0, backend: serving.backend, description: cfg.description }),
    }));
    log(`registered ${cfg.name} version ${reg.version} (parent ${reg.parent_version ?? 'none'}) at ${reg.dir}; seconds: ${Object.entries(timings).map(([k, v]) => `${k.replace(/_s$/, '')} ${v}`).join(', ')}`);
    return { registered: true, version: reg.version, dir: reg.dir, card: { ...card, version: reg.version, parent_version: reg.parent_version }, gates };
  } finally {
    wh.close();
  }
}
