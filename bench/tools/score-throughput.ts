/**
 * `infera score` against the same model in process, on the same rows of the same file:
 *
 *   node dist/bench/tools/score-throughput.js [--rows 3000000] [--out bench/results/score]
 *
 * - in process (the ceiling): the rows read once from the file by DuckDB (not timed), then in
 *   256-row parts the native batched transform and one onnxruntime-node session, on this thread;
 * - `infera score --limit ROWS`, end to end (staging, validation, transform, the batcher and its
 *   worker pool, Parquet parts, the final join), as a user runs it.
 * Prints rows/s of both and the ratio; writes result.json and summary.md to --out.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Warehouse, readColumns } from '../../src/data/warehouse';
import { loadFeatureSpec } from '../../src/features';
import { NativeFeatureTransform } from '../../src/native/features';
import { cpuFeatures } from '../../src/native/binding';
import { flightsParquet } from '../lib/flights';
import { toolArg } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');


async function main(): Promise<void> {
  const rows = Number(toolArg('rows') ?? 3_000_000);
  if (!Number.isInteger(rows) || rows < 1000) throw new Error('--rows must be an integer ≥ 1000');
  const out = path.resolve(toolArg('out') ?? path.join(ROOT, 'bench/runs', `score-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const file = flightsParquet(ROOT);
  const dir = path.join(ROOT, 'models/flights-delay/1');
  const spec = loadFeatureSpec(path.join(dir, 'feature_spec.json'));

  // In process: the rows in memory first (DuckDB, not timed), in file order.
  const wh = await Warehouse.open();
  await wh.conn.run(`CREATE TABLE f AS SELECT * FROM read_parquet('${file}') LIMIT ${rows}`);
  const { columns } = await readColumns(wh, 'f', { date: 'epoch_ms', distance: 'number', origin: 'string', destination: 'string' }, { timestamp: 'date' });
  wh.close();
  const transform = NativeFeatureTransform.of(spec);
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { intraOpNumThreads: 1 });
  const t0 = performance.now();
  let checksum = 0;
  for (let lo = 0; lo < rows; lo += 256) {
    const n = Math.min(256, rows - lo);
    const part: Record<string, ArrayLike<string | number>> = {};
    for (const [k, v] of Object.entries(columns)) part[k] = (v as Float64Array | string[]).slice(lo, lo + n);
    const x = transform.transformSync(part as Record<string, (string | number)[]>);
    const r = await session.run({ features: new ort.Tensor('float32', x.data, [n, x.width]) });
    checksum += (r.probability.data as Float32Array)[0];
  }
  const inProcessS = (performance.now() - t0) / 1000;
  await session.release();
  const inProcess = rows / inProcessS;
  console.log(`in process (transform + onnxruntime, one thread, 256-row parts): ${Math.round(inProcess)} rows/s over ${rows} rows (checksum ${checksum.toFixed(3)})`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-score-bench-'));
  const t1 = performance.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'score', '--model', 'flights-delay/1', '--input', file, '--limit', String(rows), '--output', path.join(tmp, 'scored.parquet'), '--registry', path.join(tmp, 'registry.sqlite'), '--json'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const wallS = (performance.now() - t1) / 1000;
  if (r.status !== 0) throw new Error(`infera score failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout) as { scored: number; rejected: number; seconds: number };
  fs.rmSync(tmp, { recursive: true, force: true });
  const score = rows / res.seconds;
  const ratio = Math.round((score / inProcess) * 1000) / 1000;
  console.log(`infera score: ${Math.round(score)} rows/s (${res.scored} scored, ${res.rejected} rejected, ${res.seconds} s; ${wallS.toFixed(1)} s with process start and model load); ratio ${ratio}`);
  const flags = Object.entries(cpuFeatures()).filter(([, on]) => on).map(([f]) => f);
  const result = { at: new Date().toISOString(), cpu: os.cpus()[0]?.model, cpu_flags: flags, cores: os.cpus().length, rows, in_process_rows_per_s: Math.round(inProcess), score_rows_per_s: Math.round(score), score_seconds: res.seconds, score_wall_seconds: Math.round(wallS * 10) / 10, ratio };
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify(result, null, 2) + '\n');
  fs.writeFileSync(path.join(out, 'summary.md'), `# infera score vs in process (${result.at})\n\nCPU: ${result.cpu} (${flags.join(', ')}), ${result.cores} cores, not pinned. ${rows} rows of flights-3m.parquet, flights-delay v1.\n\n| path | rows/s |\n| --- | ---: |\n| in process: native transform + onnxruntime-node, one thread, 256-row parts, rows already in memory | ${result.in_process_rows_per_s} |\n| \`infera score\` end to end (staging, validation, transform, batcher + worker pool, Parquet) | ${result.score_rows_per_s} |\n| **ratio** | **${ratio}** |\n`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
