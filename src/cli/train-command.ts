/**
 * `infera train <pipeline.json>`: runs the training pipeline and registers the model.
 * Exit status 0 when a version was registered (or a dry run passed), 1 otherwise, with
 * the failing stage and reason on stderr. The lead wires it in src/cli/main.ts:
 *   registerTrainCommand(program);
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type * as RunPipelineModule from '../pipeline/run-pipeline';
import type { RunResult } from '../pipeline/run-pipeline';
import type * as RunLogModule from '../registry/run-log';
import { repositoryOption } from './repository-option';
import { registerCandidate, registryFile, registryOption } from './registry-command';

function positiveInt() {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a positive integer, got '${v}'`);
    return n;
  };
}

function nonNegativeInt() {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError(`must be an integer in [0, 2^32), got '${v}'`);
    return n;
  };
}

export function registerTrainCommand(program: Command): Command {
  return program
    .command('train')
    .description('run a training pipeline (ingest, validate, features, train, evaluate, gates, ONNX export) and register the model')
    .argument('<pipeline>', 'pipeline file, e.g. pipelines/flights-delay.json')
    .addOption(registryOption())
    .addOption(repositoryOption('model repository to register into'))
    .addOption(new Option('--rows-limit <n>', 'read at most N rows per window (deterministic subset, for quick runs)').argParser(positiveInt()))
    .addOption(new Option('--seed <n>', 'override the seed of both models').argParser(nonNegativeInt()))
    .addOption(new Option('--epochs <n>', "override the MLP's epochs").argParser(positiveInt()))
    .option('--dry-run', 'run every stage but register nothing', false)
    .option('--json', 'print the result (version, metrics, gates) as JSON on stdout', false)
    .action(async (pipeline: string, o: { repository: string; registry?: string; rowsLimit?: number; seed?: number; epochs?: number; dryRun: boolean; json: boolean }) => {
      // The training stack loads when `train` runs, not with every command (issue 12).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { PipelineError, runPipeline } = require('../pipeline/run-pipeline') as typeof RunPipelineModule;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { RunLog } = require('../registry/run-log') as typeof RunLogModule;
      // Every run is recorded (infera runs list|show|compare), failed ones included.
      const runs = new RunLog(registryFile(o));
      const runId = runs.start({
        model: pipelineName(pipeline),
        pipeline: path.resolve(pipeline),
        options: { rows_limit: o.rowsLimit ?? null, seed: o.seed ?? null, epochs: o.epochs ?? null, dry_run: o.dryRun },
      });
      try {
        const result = await runPipeline({
          pipelineFile: path.resolve(pipeline),
          repository: path.resolve(o.repository),
          rowsLimit: o.rowsLimit,
          seed: o.seed,
          epochs: o.epochs,
          dryRun: o.dryRun,
        });
        runs.finish(runId, { status: result.registered ? 'registered' : 'dry_run', ...runOutcome(result) });
        process.stderr.write(`run ${runId} recorded (infera runs show ${runId})\n`);
        if (o.json) {
          const { card } = result;
          process.stdout.write(JSON.stringify({ run: runId, registered: result.registered, version: result.version, dir: result.dir, threshold: card.threshold, metrics: card.metrics, baseline_metrics: card.baseline_metrics, gates: result.gates }, null, 2) + '\n');
        } else if (result.registered) {
          process.stdout.write(`${result.dir}\n`);
        }
        if (result.registered && result.version !== null) {
          process.stderr.write(`${registerCandidate({ repository: o.repository, registry: o.registry }, path.basename(path.dirname(result.dir!)), result.version, `train ${path.basename(pipeline)}, run ${runId}`)}\n`);
        }
      } catch (e) {
        const failed = e instanceof PipelineError;
        runs.finish(runId, {
          status: 'failed',
          failed_stage: failed ? e.stage : 'unknown',
          error: (e as Error).message,
          metrics: failed && e.details?.metrics ? (e.details.metrics as unknown as RunMetrics) : null,
        });
        process.stderr.write(`${failed ? e.message : `pipeline failed: ${(e as Error).stack ?? e}`}\nrun ${runId} recorded as failed\n`);
        process.exitCode = 1;
      } finally {
        runs.close();
      }
    });
}

type RunMetrics = Record<string, Record<string, Record<string, number>>>;

/** The pipeline's model name, for the run record (the file is checked by the pipeline itself). */
function pipelineName(file: string): string {
  try {
    const name = (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : path.basename(file, '.json');
  } catch {
    return path.basename(file, '.json');
  }
}

/** What a finished run used and measured, from its model card. */
/** What a finished run records (exported for its test). */
export function runOutcome(result: RunResult) {
  const card = result.card as {
    exported_model?: string;
    source?: { sha256?: string };
    code?: Record<string, unknown> | null;
    metrics?: Record<string, Record<string, number>>;
    baseline_metrics?: Record<string, Record<string, number>>;
    // An MLP's history has epochs; a GBDT's the training loss per iteration.
    training?: Record<string, { params: Record<string, unknown>; history: { epochs?: { loss: number }[]; train_loss?: number[] } }>;
    timings?: Record<string, number>;
  };
  const training = card.training ?? {};
  return {
    params: Object.fromEntries(Object.entries(training).map(([m, t]) => [m, t.params])),
    data_sha256: card.source?.sha256 ?? null,
    code: card.code ?? null,
    metrics: { [card.exported_model ?? 'model']: card.metrics ?? {}, ...(card.exported_model === 'baseline' ? {} : { baseline: card.baseline_metrics ?? {} }) },
    curves: Object.fromEntries(Object.entries(training).map(([m, t]) => [m, t.history.epochs?.map((e) => e.loss) ?? t.history.train_loss ?? []])),
    timings: card.timings ?? null,
    version: result.version,
    artifact: result.dir,
  };
}
