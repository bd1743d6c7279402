/**
 * `infera train <pipeline.json>`: runs the training pipeline and registers the model.
 * Exit status 0 when a version was registered (or a dry run passed), 1 otherwise, with
 * the failing stage and reason on stderr. The lead wires it in src/cli/main.ts:
 *   registerTrainCommand(program);
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { PipelineError, runPipeline } from '../pipeline/run-pipeline';
import { repositoryOption } from './repository-option';
import { registerCandidate, registryOption } from './registry-command';

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
    .action(async (pipeline: string, o: { repository: string; rowsLimit?: number; seed?: number; epochs?: number; dryRun: boolean; json: boolean }) => {
      try {
        const result = await runPipeline({
          pipelineFile: path.resolve(pipeline),
          repository: path.resolve(o.repository),
          rowsLimit: o.rowsLimit,
          seed: o.seed,
          epochs: o.epochs,
          dryRun: o.dryRun,
        });
        if (o.json) {
          const { card } = result;
          process.stdout.write(JSON.stringify({ registered: result.registered, version: result.version, dir: result.dir, threshold: card.threshold, metrics: card.metrics, baseline_metrics: card.baseline_metrics, gates: result.gates }, null, 2) + '\n');
        } else if (result.registered) {
          process.stdout.write(`${result.dir}\n`);
        }
        if (result.registered && result.version !== null) {
          process.stderr.write(`${registerCandidate({ repository: o.repository, registry: (o as { registry?: string }).registry }, path.basename(path.dirname(result.dir!)), result.version, `train ${path.basename(pipeline)}`)}\n`);
        }
      } catch (e) {
        process.stderr.write(`${e instanceof PipelineError ? e.message : `pipeline failed: ${(e as Error).stack ?? e}`}\n`);
        process.exitCode = 1;
      }
    });
}
