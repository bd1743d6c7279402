/**
 * Offline replay: days of a source file (e.g. flights-3m.parquet) run through a
 * registered model version outside the server — its feature spec and ONNX file — and
 * judged against its card's baseline exactly as the live path judges a day window (same
 * encoder, sketch and evaluation). Used by `infera drift` and as the offline reference of
 * the live figures.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DuckDBInstance } from '@duckdb/node-api';
import { Columns, FeatureSpec, loadFeatureSpec, transform } from '../features';
import { readerSql } from '../data/warehouse';
import { Baseline, baselineFromCard, DAY_MS } from './baseline';
import { MonitoringConfig } from './config';
import { performanceOptions, windowPerformance, WindowPerformance } from './performance';
import { ProfileSketch } from './sketch';
import { VersionMonitor, WindowResult } from './version-monitor';
import { PredictionLog } from './prediction-log';
import { AlertManager } from './alerts';

export interface DayRows {
  /** YYYY-MM-DD (UTC). */
  day: string;
  rows: number;
  /** The model's raw inputs (timestamps as epoch ms). */
  columns: Columns;
  labels: Uint8Array;
}

/** A registered version, runnable offline. */
export class OfflineModel {
  private constructor(readonly dir: string, readonly card: any, readonly spec: FeatureSpec, readonly baseline: Baseline, private readonly session: ort.InferenceSession) {}

  static async load(repository: string, model: string, version?: number): Promise<OfflineModel> {
    const modelDir = path.join(repository, model);
    const versions = fs.existsSync(modelDir) ? fs.readdirSync(modelDir).filter((d) => /^[1-9]\d*$/.test(d)).map(Number).sort((a, b) => a - b) : [];
    const v = version ?? versions[versions.length - 1];
    if (v === undefined || !versions.includes(v)) throw new Error(`no version ${version ?? ''} of model '${model}' in ${repository}`.replace('  ', ' '));
    const dir = path.join(modelDir, String(v));
    if (!fs.existsSync(path.join(dir, 'card.json'))) {
      throw new Error(`${model}/${v} has no card.json, so it cannot be monitored: drift compares live data with the training data's profile, which \`infera train\` records in the card; a model imported as a bare ONNX file (like vad) has none. Train it with \`infera train <pipeline.json>\`, or watch its request health on /metrics`);
    }
    for (const f of ['feature_spec.json', 'model.onnx']) if (!fs.existsSync(path.join(dir, f))) throw new Error(`${model}/${v}: missing ${f} (written by \`infera train\` next to card.json)`);
    const card = JSON.parse(fs.readFileSync(path.join(dir, 'card.json'), 'utf8'));
    const baseline = { ...baselineFromCard(card, `${model}/${v}/card.json`), model, version: v };
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { intraOpNumThreads: 1 });
    return new OfflineModel(dir, card, loadFeatureSpec(path.join(dir, 'feature_spec.json')), baseline, session);
  }

  get inputs(): string[] {
    return this.spec.inputs.map((i) => i.name);
  }

  /** Positive-class probabilities for raw input columns, in chunks. */
  async predict(columns: Columns, rows: number): Promise<Float32Array> {
    const out = new Float32Array(rows);
    const chunk = 8192;
    for (let s = 0; s < rows; s += chunk) {
      const e = Math.min(rows, s + chunk);
      const part: Columns = {};
      for (const k of this.inputs) part[k] = Array.prototype.slice.call(columns[k], s, e);
      const x = transform(this.spec, part);
      const input = this.session.inputNames[0];
      const r = await this.session.run({ [input]: new ort.Tensor('float32', x.data, [x.rows, x.width]) });
      out.set(r[this.session.outputNames[0]].data as Float32Array, s);
    }
    return out;
  }

  labelOf(row: Record<string, unknown>): number {
    const l = this.card.label;
    const v = Number(row[l.column]);
    const t = l.value;
    return l.op === '>' ? +(v > t) : l.op === '>=' ? +(v >= t) : l.op === '<' ? +(v < t) : l.op === '<=' ? +(v <= t) : +(v === t);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Reads the model's inputs and label column for each day in [from, to) from a file DuckDB
 * reads (parquet, csv, json), in a fixed row order. `perDay` keeps a deterministic
 * subset (by a hash of the row) of at most that many rows per day.
 */
export async function* readDays(file: string, model: OfflineModel, from: string, to: string, perDay?: number): AsyncGenerator<DayRows> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    const ts = model.baseline.timestampInput ?? 'date';
    const label = model.card.label.column as string;
    const q = (n: string) => `"${n.replace(/"/g, '""')}"`;
    const src = readerSql(file);
    const types = new Map(model.spec.inputs.map((i) => [i.name, i.type]));
    const all = [...model.inputs, label].filter((v, i, a) => a.indexOf(v) === i);
    const order = all.map(q).join(', ');
    for (let t = Date.parse(`${from}T00:00:00Z`); t < Date.parse(`${to}T00:00:00Z`); t += DAY_MS) {
      const day = isoDay(t);
      const where = `${q(ts)} >= TIMESTAMP '${day} 00:00:00' AND ${q(ts)} < TIMESTAMP '${isoDay(t + DAY_MS)} 00:00:00'`;
      const inner = perDay ? `(SELECT * FROM ${src} WHERE ${where} ORDER BY hash(${order}), ${order} LIMIT ${Math.floor(perDay)})` : `(SELECT * FROM ${src} WHERE ${where})`;
      const select = all.map((n) => (types.get(n) === 'timestamp' ? `epoch_ms(${q(n)})::DOUBLE AS ${q(n)}` : types.get(n) === 'string' ? `${q(n)}::VARCHAR AS ${q(n)}` : `${q(n)}::DOUBLE AS ${q(n)}`));
      const rows = (await conn.runAndReadAll(`SELECT ${select.join(', ')} FROM ${inner} ORDER BY ${order}`)).getRowObjectsJS() as Record<string, unknown>[];
      const columns: Columns = {};
      for (const n of model.inputs) columns[n] = types.get(n) === 'string' ? rows.map((r) => String(r[n])) : Float64Array.from(rows, (r) => Number(r[n]));
      yield { day, rows: rows.length, columns, labels: Uint8Array.from(rows, (r) => model.labelOf(r)) };
    }
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

export interface ReplayedDay {
  day: string;
  result: WindowResult;
  performance: WindowPerformance;
}

/** Judges one day as the live path judges a closed day window. */
export function judgeDay(model: OfflineModel, config: MonitoringConfig, d: DayRows, predictions: Float32Array): ReplayedDay {
  // A throwaway monitor: only its evaluation is used, nothing is logged or alerted.
  const log = new PredictionLog({ path: ':memory:' });
  try {
    const vm = new VersionMonitor(model.baseline.model, model.baseline.version, model.baseline, { config, log, alerts: new AlertManager({ cooldownMs: 0, sinks: [] }), now: Date.now });
    const e = vm.encoder.encode({ columns: d.columns, predictions });
    const sketch = new ProfileSketch(model.baseline);
    sketch.add(e, 0, e.rows, Date.now(), 0);
    const p = config.performance;
    const performance = windowPerformance(d.labels, predictions, performanceOptions(p, model.baseline));
    return { day: d.day, result: vm.evaluate(sketch), performance };
  } finally {
    log.close();
  }
}
