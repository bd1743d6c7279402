/**
 * GBDT training and serving throughput on real flights (the flights-delay pipeline's
 * feature spec), and the data LightGBM needs to be measured on the same features:
 *
 *   node dist/bench/tools/gbdt-train.js [--from 2001-01-01] [--to 2001-01-25] [--rows N]
 *     [--iterations 100] [--leaves 63] [--threads 0|1] [--dump DIR] [--no-inference]
 *   /tmp/lgb/bin/python bench/tools/lightgbm-anchor.py DIR [--threads 1]
 *
 * - training: the native trainer, rows × iterations / second, binning included, no
 *   validation set; `--threads 1` on this thread only, `--threads 0` on the compute pool
 *   (every core). The trees are the same either way (the test checks it);
 * - `--dump DIR`: the training matrix as the trainer sees it (x.f32 row-major, y.u8,
 *   meta.json with the shape, categorical columns and the parameters), which
 *   lightgbm-anchor.py trains LightGBM on with the same parameters;
 * - inference: the exported ONNX TreeEnsembleClassifier in one onnxruntime-node session on
 *   the serving tensor (features FP32 [N, width]) in batches of 1, 256 and 4096 rows.
 * Prints the figures and the CPU; asserts nothing. The whole file (2001-01-01 to
 * 2001-07-01) is the "3M-row year" of the issue.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { fitFeatures, transform, transformSparse } from '../../src/features';
import { Warehouse, ingest, readColumns } from '../../src/data/warehouse';
import { categoricalColumns, exportGbdtOnnx, gbdtColumns, gbdtMatrix, trainGbdt, type GbdtOptions } from '../../src/pipeline/gbdt';
import { flightsParquet } from '../lib/flights';
import { toolArg } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');

async function main(): Promise<void> {
  const window = { from: toolArg('from') ?? '2001-01-01', to: toolArg('to') ?? '2001-01-25' };
  const limit = toolArg('rows') === undefined ? undefined : Number(toolArg('rows'));
  const iterations = Number(toolArg('iterations') ?? 100);
  const leaves = Number(toolArg('leaves') ?? 63);
  const threads = Number(toolArg('threads') ?? 0);
  const wh = await Warehouse.open();
  await ingest(wh, flightsParquet(ROOT), 'f', { timestamp: 'date', window });
  const { columns, rows } = await readColumns(wh, 'f', { date: 'epoch_ms', distance: 'number', origin: 'string', destination: 'string', delay: 'number' }, { timestamp: 'date', limit });
  wh.close();
  const pipeline = JSON.parse(fs.readFileSync(path.join(ROOT, 'pipelines/flights-delay.json'), 'utf8'));
  const spec = fitFeatures(columns as never, { ...pipeline.features, window });
  const cols = gbdtColumns(spec);
  const x = gbdtMatrix(cols, transformSparse(spec, columns as never));
  const y = Uint8Array.from(columns.delay as Float64Array, (d) => (d > 15 ? 1 : 0));
  const categorical = categoricalColumns(cols);
  const params: GbdtOptions = { num_iterations: iterations, learning_rate: 0.05, max_leaves: leaves, min_data_in_leaf: 100, lambda_l2: 1, bagging_fraction: 0.8, feature_fraction: 0.8, seed: 1, num_threads: threads };
  console.log(`cpu: ${os.cpus()[0].model}, ${os.cpus().length} cores; window ${window.from} to ${window.to}`);

  const dump = toolArg('dump');
  if (dump) {
    fs.mkdirSync(dump, { recursive: true });
    fs.writeFileSync(path.join(dump, 'x.f32'), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
    fs.writeFileSync(path.join(dump, 'y.u8'), y);
    fs.writeFileSync(path.join(dump, 'meta.json'), JSON.stringify({ rows, cols: cols.length, categorical, names: cols.map((c) => c.name ?? null), params, window }, null, 2));
    console.log(`dump: ${rows} × ${cols.length} in ${dump}`);
  }

  const t0 = performance.now();
  const model = trainGbdt({ x, rows, cols: cols.length, y, categorical }, params);
  const seconds = (performance.now() - t0) / 1000;
  const who = threads === 1 ? 'one thread' : `compute pool, ${os.cpus().length} cores`;
  console.log(`train: ${rows} rows × ${iterations} iterations, ${leaves} leaves, ${cols.length} columns: ${seconds.toFixed(2)} s, ${Math.round((rows * iterations) / seconds)} row-iterations/s (${who}, bagging 0.8); final train log loss ${model.trainLoss[model.trainLoss.length - 1].toFixed(6)}`);
  if (process.argv.includes('--no-inference')) return;

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
