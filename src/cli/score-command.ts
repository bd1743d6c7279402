/**
 * `infera score --model NAME[@alias|/version] --input FILE --output FILE.parquet`: scores every
 * row of a file on the serving path (src/scoring/score-file.ts) and records the run, with the
 * input's and output's hashes, where training runs are recorded (`infera runs`).
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import type * as RunLogModule from '../registry/run-log';
import type * as ScoreFileModule from '../scoring/score-file';
import { DEFAULT_CHUNK_ROWS } from '../scoring/score-defaults';
import { positive, registryFile, registryOption } from './registry-command';
import { repositoryOption } from './repository-option';

/** "name", "name@alias" or "name/3". */
export function parseModelRef(ref: string): { model: string; version?: number | string } {
  const m = /^([^@/]+)(?:@([A-Za-z][\w-]*)|\/([1-9]\d*))?$/.exec(ref);
  if (!m) throw new Error(`--model '${ref}': expected NAME, NAME@ALIAS or NAME/VERSION`);
  return { model: m[1], version: m[2] ?? (m[3] ? Number(m[3]) : undefined) };
}

/** A redrawn line on a terminal; a line every `everyS` seconds otherwise (logs stay readable). */
function progress(everyS: number): (done: number, total: number) => void {
  const tty = Boolean(process.stderr.isTTY);
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < (tty ? 100 : everyS * 1000)) return;
    last = now;
    const text = `scored ${done.toLocaleString('en')} of ${total.toLocaleString('en')} rows (${total ? Math.floor((100 * done) / total) : 100} %)`;
    process.stderr.write(tty ? `\r${text}${done >= total ? '\n' : ''}` : `${text}\n`);
  };
}

export function registerScoreCommand(program: Command): Command {
  return program
    .command('score')
    .description('score every row of a Parquet/CSV/JSON file with a model on the serving path; Parquet out, rejected rows with their reason in a rejects file')
    .requiredOption('-m, --model <ref>', 'NAME, NAME@ALIAS or NAME/VERSION (default version: the production alias, else the newest)')
    .requiredOption('-i, --input <file>', 'Parquet, CSV or JSON file holding the model\'s input columns')
    .requiredOption('-o, --output <file>', 'Parquet file: every input column, prediction, probability, model_version, run_id')
    .addOption(new Option('--rejects <file>', 'rows /predict would refuse, with the reason (default: OUTPUT.rejects.parquet)'))
    .addOption(new Option('--chunk-rows <n>', 'rows per committed chunk (a rerun after a crash resumes after the last one)').argParser(positive('--chunk-rows')).default(DEFAULT_CHUNK_ROWS))
    .addOption(new Option('--limit <n>', 'score only the first N rows of the file (in file order), for a quick try').argParser(positive('--limit')))
    .addOption(new Option('--progress-every <s>', 'seconds between progress lines when stderr is not a terminal').argParser(positive('--progress-every')).default(10))
    .addOption(repositoryOption())
    .addOption(registryOption())
    .option('--json', 'print the result as JSON', false)
    .action(async (o: { model: string; input: string; output: string; rejects?: string; chunkRows: number; limit?: number; progressEvery: number; repository: string; registry?: string; json: boolean }) => {
      let ref: { model: string; version?: number | string };
      try {
        ref = parseModelRef(o.model);
      } catch (e) {
        process.stderr.write(`${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      // Scoring (DuckDB, the backends) loads when `score` runs, not with every command (issue 12).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { RunLog } = require('../registry/run-log') as typeof RunLogModule;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { scoreFile } = require('../scoring/score-file') as typeof ScoreFileModule;
      const repository = path.resolve(o.repository);
      const runs = new RunLog(registryFile(o));
      const options = { model: o.model, input: path.resolve(o.input), output: path.resolve(o.output), chunk_rows: o.chunkRows, limit: o.limit ?? null };
      const runId = runs.start({ kind: 'score', model: ref.model, pipeline: path.resolve(o.input), options });
      process.stderr.write(`run ${runId}\n`);
      // A cancelled job (SIGTERM from the server) or Ctrl-C: the run says so; committed chunks stay.
      for (const sig of ['SIGTERM', 'SIGINT'] as const) {
        process.once(sig, () => {
          runs.finish(runId, { status: 'failed', failed_stage: 'score', error: `stopped by ${sig}; the same command resumes after the last committed chunk` });
          runs.close();
          process.exit(128 + (sig === 'SIGTERM' ? 15 : 2));
        });
      }
      try {
        const r = await scoreFile({ repository, registry: o.registry, ...ref, input: o.input, output: o.output, rejects: o.rejects, chunkRows: o.chunkRows, limit: o.limit, runId, onProgress: progress(o.progressEvery) });
        runs.finish(runId, {
          status: 'scored', version: r.version, artifact: r.output.path, data_sha256: r.input.sha256,
          io: { input: r.input, output: r.output, ...(r.rejects ? { rejects: r.rejects } : {}) },
          timings: { total_s: r.seconds },
        });
        const line = `scored ${r.scored} of ${r.rows} rows of ${o.input} with ${r.model} version ${r.version} in ${r.seconds} s (${Math.round(r.rows / Math.max(r.seconds, 1e-3))} rows/s) → ${r.output.path}${r.rejects ? `; ${r.rejected} rejected → ${r.rejects.path}` : ''}${r.resumedChunks ? `; resumed after ${r.resumedChunks} committed chunk(s)` : ''}; run ${runId}`;
        process.stdout.write(o.json ? `${JSON.stringify({ run: runId, ...r }, null, 2)}\n` : `${line}\n`);
      } catch (e) {
        runs.finish(runId, { status: 'failed', failed_stage: 'score', error: (e as Error).message });
        process.stderr.write(`score failed: ${(e as Error).message}\nrun ${runId} recorded as failed\n`);
        process.exitCode = 1;
      } finally {
        runs.close();
      }
    });
}
