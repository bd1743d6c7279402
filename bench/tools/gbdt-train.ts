/**
 * GBDT training and serving throughput on real flights (Jan 1-24 2001 through the
 * flights-delay pipeline's feature spec):
 *
 *   node dist/bench/tools/gbdt-train.js [--rows 393569] [--iterations 100] [--leaves 63]
 *
 * - training: the native trainer (one thread), rows × iterations / second, binning included;
 * - inference: the exported ONNX TreeEnsembleClassifier in one onnxruntime-node session on
 *   the serving tensor (features FP32 [N, width]) in batches of 1, 256 and 4096 rows.
 * Prints the figures and the CPU; asserts nothing.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { fitFeatures, transform, transformSparse } from '../../src/features';
import { Warehouse, ingest, readColumns } from '../../src/data/warehouse';
import { categoricalColumns, exportGbdtOnnx, gbdtColumns, gbdtMatrix, trainGbdt } from '../../src/pipeline/gbdt';
import { flightsParquet } from '../lib/flights';
import { toolArg } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');

async function main(): Promise<void> {
  const limit = Number(toolArg('rows') ?? 393_569);
  const iterations = Number(toolArg('iterations') ?? 100);
  const leaves = Number(toolArg('leaves') ?? 63);
  const wh = await Warehouse.open();
  const window = { from: '2001-01-01', to: '2001-01-25' };
  await ingest(wh, flightsParquet(ROOT), 'f', { timestamp: 'date', window });
  const { columns, rows } = await readColumns(wh, 'f', { date: 'epoch_ms', distance: 'number', origin: 'string', destination: 'string', delay: 'number' }, { timestamp: 'date', limit });
  wh.close();
  const pipeline = JSON.parse(fs.readFileSync(path.join(ROOT, 'pipelines/flights-delay.json'), 'utf8'));
  const spec = fitFeatures(columns as never, { ...pipeline.features, window });
  const cols = gbdtColumns(spec);
  const x = gbdtMatrix(cols, transformSparse(spec, columns as never));
  const y = Uint8Array.from(columns.delay as Float64Array, (d) => (d > 15 ? 1 : 0));

  const t0 = performance.now();
  const model = trainGbdt({ x, rows, cols: cols.length, y, categorical: categoricalColumns(cols) }, { num_iterations: iterations, learning_rate: 0.05, max_leaves: leaves, min_data_in_leaf: 100, lambda_l2: 1, bagging_fraction: 0.8, feature_fraction: 0.8, seed: 1 });
  const seconds = (performance.now() - t0) / 1000;
  console.log(`cpu: ${os.cpus()[0].model}, ${os.cpus().length} cores`);
  console.log(`train: ${rows} rows × ${iterations} iterations, ${leaves} leaves, ${cols.length} columns: ${seconds.toFixed(1)} s, ${Math.round((rows * iterations) / seconds)} row-iterations/s (one thread, bagging 0.8)`);

  const onnx = exportGbdtOnnx(model, cols, spec.width, { opset: 13 });
  const session = await ort.InferenceSession.create(onnx);
  const n = Math.min(rows, 16_384);
  const dense = transform(spec, Object.fromEntries(['date', 'distance', 'origin', 'destination'].map((k) => [k, (columns[k] as ArrayLike<unknown>)])) as never).data.subarray(0, n * spec.width);
  console.log(`onnx: ${onnx.length} bytes, ${model.trees.length} trees`);
  for (const batch of [1, 256, 4096]) {
    const reps = batch === 1 ? 2000 : Math.max(4, Math.floor(n / batch));
    let done = 0;
    const t1 = performance.now();
    for (let r = 0; r < reps; r++) {
      const off = ((r * batch) % (n - batch + 1)) * spec.width;
      await session.run({ features: new ort.Tensor('float32', dense.subarray(off, off + batch * spec.width), [batch, spec.width]) });
      done += batch;
    }
    const s = (performance.now() - t1) / 1000;
    console.log(`inference batch ${batch}: ${Math.round(done / s)} rows/s (${((s / reps) * 1e3).toFixed(3)} ms per call)`);
  }
  await session.release();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
