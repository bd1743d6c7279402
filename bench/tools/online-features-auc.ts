/**
 * Does a model gain from online features? The flights GBDT pipeline with and without them,
 * same data, windows, seed and hyper-parameters; AUC per window (holdout, Feb-Jun 2001):
 *
 *   node dist/bench/tools/online-features-auc.js [--rows N] [--out DIR]
 *
 * pipelines/flights-delay-gbdt.json against pipelines/flights-delay-online.json (the same
 * file plus online_features: the origin's, destination's and route's recent delays, point-
 * in-time correct). Both run as dry runs (nothing registered). Prints a table; asserts nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPipeline } from '../../src/pipeline/run-pipeline';
import { toolArg } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');

async function run(file: string, rowsLimit?: number): Promise<{ metrics: Record<string, { auc: number; ece?: number }>; seconds: number }> {
  const t0 = performance.now();
  const res = await runPipeline({ pipelineFile: file, repository: fs.mkdtempSync(path.join(os.tmpdir(), 'infera-online-auc-')), dryRun: true, progress: false, rowsLimit, log: (l) => process.stderr.write(`[${path.basename(file)}] ${l}\n`) });
  return { metrics: res.card.metrics as Record<string, { auc: number; ece?: number }>, seconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const rows = toolArg('rows') ? Number(toolArg('rows')) : undefined;
  const out = toolArg('out');
  const online = path.join(ROOT, 'pipelines/flights-delay-online.json');
  // The same pipeline without its online features, next to it so the source path still resolves.
  const cfg = JSON.parse(fs.readFileSync(online, 'utf8'));
  delete cfg.online_features;
  const plain = path.join(ROOT, 'pipelines', `.online-features-auc-${process.pid}.json`);
  fs.writeFileSync(plain, JSON.stringify(cfg));
  let without;
  try {
    without = await run(plain, rows);
  } finally {
    fs.rmSync(plain, { force: true });
  }
  const withOnline = await run(online, rows);
  const lines = [
    `cpu: ${os.cpus()[0].model}, ${os.cpus().length} cores; rows per window: ${rows ?? 'all'}`,
    '| window | AUC without | AUC with online features | gain |',
    '|---|---|---|---|',
    ...Object.keys(without.metrics).map((w) => `| ${w} | ${without.metrics[w].auc.toFixed(4)} | ${withOnline.metrics[w].auc.toFixed(4)} | ${(withOnline.metrics[w].auc - without.metrics[w].auc >= 0 ? '+' : '')}${(withOnline.metrics[w].auc - without.metrics[w].auc).toFixed(4)} |`),
    `pipeline wall time: ${without.seconds.toFixed(0)} s without, ${withOnline.seconds.toFixed(0)} s with`,
  ];
  console.log(lines.join('\n'));
  if (out) {
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'summary.md'), `# Online features: AUC with and without\n\n\`node dist/bench/tools/online-features-auc.js${rows ? ` --rows ${rows}` : ''}\`\n\n${lines.join('\n')}\n`);
    fs.writeFileSync(path.join(out, 'metrics.json'), JSON.stringify({ without: without.metrics, with_online_features: withOnline.metrics }, null, 2) + '\n');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
