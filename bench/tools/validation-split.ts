/**
 * Whole validation days against random validation rows, on real flights: the GBDT of
 * pipelines/flights-delay-gbdt.json fitted on Jan 1-24 2001 minus a quarter held out either as
 *  - days: every 4th day from Jan 4 (the pipeline's model.validation_days), or
 *  - rows: a seeded random quarter of the rows (same days in fit and validation),
 * early-stopped and Platt-calibrated on the held-out rows, then scored on them and on the
 * holdout week (Jan 25-31). Same-day leakage shows as validation figures that promise more
 * than the holdout week gives (AUC gap), more trees, and a calibration that misses out of time.
 *
 *   node dist/bench/tools/validation-split.js [--iterations 1000] [--learning-rate 0.05]
 *
 * Prints the figures and the CPU; asserts nothing.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { fitFeatures, transformSparse, type Columns } from '../../src/features';
import { Warehouse, ingest, readColumns } from '../../src/data/warehouse';
import { categoricalColumns, gbdtColumns, gbdtMatrix, gbdtProbabilities, gbdtRawScores, plattFolded, trainGbdt } from '../../src/pipeline/gbdt';
import { fitPlatt } from '../../src/pipeline/calibration';
import { prng } from '../../src/pipeline/network';
import { validationRows } from '../../src/pipeline/pipeline-config';
import { auc, expectedCalibrationError, logLoss } from '../../src/stats/classification';
import { flightsParquet } from '../lib/flights';
import { toolArg } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');
const KINDS = { date: 'epoch_ms', distance: 'number', origin: 'string', destination: 'string', delay: 'number' } as const;

function pick(x: Float32Array, cols: number, keep: boolean[]): Float32Array {
  const out = new Float32Array(keep.filter(Boolean).length * cols);
  for (let i = 0, o = 0; i < keep.length; i++) if (keep[i]) out.set(x.subarray(i * cols, (i + 1) * cols), cols * o++);
  return out;
}

async function main(): Promise<void> {
  const iterations = Number(toolArg('iterations') ?? 1000);
  const learningRate = Number(toolArg('learning-rate') ?? 0.05);
  const pipeline = JSON.parse(fs.readFileSync(path.join(ROOT, 'pipelines/flights-delay-gbdt.json'), 'utf8'));
  const train = pipeline.windows.train;
  const wh = await Warehouse.open();
  await ingest(wh, flightsParquet(ROOT), 'f', { timestamp: 'date', window: { from: train.from, to: pipeline.windows.holdout.to } });
  const read = async (w: { from: string; to: string }) => readColumns(wh, 'f', KINDS, { timestamp: 'date', window: w });
  const tr = await read(train);
  const ho = await read(pipeline.windows.holdout);
  wh.close();
  const spec = fitFeatures(tr.columns as Columns, { ...pipeline.features, window: train });
  const cols = gbdtColumns(spec);
  const matrix = (c: Columns) => gbdtMatrix(cols, transformSparse(spec, c));
  const labels = (c: Record<string, unknown>) => Uint8Array.from(c.delay as Float64Array, (d) => (d > 15 ? 1 : 0));
  const [x, y, hx, hy] = [matrix(tr.columns as Columns), labels(tr.columns), matrix(ho.columns as Columns), labels(ho.columns)];

  const ts = tr.columns.date as Float64Array;
  const byDay = validationRows(train, pipeline.model)!;
  const days = Array.from(ts, (t) => byDay.held(t));
  const share = days.filter(Boolean).length / tr.rows;
  const rand = prng(1);
  const rows = Array.from(ts, () => rand() < share);
  const { type: _t, validation_days: _v, early_stopping_window: _e, calibration: _c, search: _s, ...options } = pipeline.model;

  console.log(`cpu: ${os.cpus()[0].model}, ${os.cpus().length} cores; ${tr.rows} training rows, ${ho.rows} holdout rows; ${iterations} iterations at most, learning rate ${learningRate}`);
  for (const [name, held] of [['days (every 4th from Jan 4)', days], ['random rows (same share)', rows]] as const) {
    const t0 = performance.now();
    const fitY = y.filter((_, i) => !held[i]);
    const validY = y.filter((_, i) => held[i]);
    const validX = pick(x, cols.length, held);
    const m = trainGbdt(
      { x: pick(x, cols.length, held.map((h) => !h)), rows: fitY.length, cols: cols.length, y: fitY, categorical: categoricalColumns(cols) },
      { ...options, num_iterations: iterations, learning_rate: learningRate, valid: { x: validX, rows: validY.length, y: validY } },
    );
    const platt = fitPlatt(gbdtRawScores(m, validX, validY.length), validY);
    const cal = plattFolded(m, platt);
    const score = (px: Float32Array, py: Uint8Array) => {
      const p = gbdtProbabilities(cal, px, py.length);
      return `AUC ${auc(py, p).toFixed(4)}, log loss ${logLoss(py, p).toFixed(4)}, ECE ${expectedCalibrationError(py, p).toFixed(4)}`;
    };
    console.log(`${name}: ${validY.length} validation rows, ${m.trees.length} trees, Platt a ${platt.a.toFixed(3)} b ${platt.b.toFixed(3)}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    console.log(`  validation: ${score(validX, validY)}`);
    console.log(`  holdout:    ${score(hx, hy)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
