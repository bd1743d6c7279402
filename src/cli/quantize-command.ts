/**
 * `infera quantize <model>`: writes the next version of a model with int8 weights, chosen
 * and checked on real data (src/quant/quantize.ts). Exit status 0 when a version was written
 * (or a dry run passed), 1 otherwise with the reason on stderr. The lead wires it in
 * src/cli/main.ts:
 *   registerQuantizeCommand(program);
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type * as QuantizeModule from '../quant/quantize';
import type { TimeWindow } from '../data/warehouse';
import { repositoryOption } from './repository-option';
import { registerCandidate, registryOption } from './registry-command';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a positive integer, got '${v}'`);
  return n;
}

function fraction(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`must be a number in [0, 1], got '${v}'`);
  return n;
}

function window(v: string): TimeWindow {
  const m = /^([^,]+),([^,]+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`must be FROM,TO (ISO dates, TO exclusive), got '${v}'`);
  return { from: m[1].trim(), to: m[2].trim() };
}

function batches(v: string): number[] {
  return v.split(',').map((x) => positiveInt(x.trim()));
}

/**
 * Adds `quantize` to the program.
 * @returns the subcommand.
 */
export function registerQuantizeCommand(program: Command): Command {
  return program
    .command('quantize')
    .description('write the next version of a model with per-channel int8 weights, checked on real held-out data (card.json reports AUC/accuracy before and after and the speed of int8 vs fp32 vs onnxruntime)')
    .argument('<model>', 'model name in the repository, e.g. flights-delay')
    .addOption(registryOption())
    .addOption(repositoryOption())
    .addOption(new Option('--from-version <n>', 'version to quantize (default: the latest)').argParser(positiveInt))
    .option('--calibration <file>', "real rows with the model's input and label columns for the per-layer check (default: the card's training source)")
    .addOption(new Option('--calibration-window <from,to>', "calibration time window (default: the card's holdout window)").argParser(window))
    .addOption(new Option('--calibration-rows <n>', 'calibration rows (deterministic subset)').argParser(positiveInt).default(20000))
    .addOption(new Option('--eval-window <from,to>', "held-out window for the reported accuracy (default: the card's first evaluation window)").argParser(window))
    .addOption(new Option('--eval-rows <n>', 'evaluation rows (deterministic subset)').argParser(positiveInt).default(50000))
    .addOption(new Option('--max-auc-drop <x>', 'largest calibration AUC drop of the whole model').argParser(fraction).default(0.002))
    .addOption(new Option('--max-layer-auc-drop <x>', 'a layer costing more calibration AUC alone stays fp32').argParser(fraction).default(0.001))
    .addOption(new Option('--threads <n>', 'threads per runner in the speed measurement').argParser(positiveInt).default(1))
    .addOption(new Option('--speed-batches <list>', 'batch sizes of the speed measurement').argParser(batches).default([64, 256]))
    .option('--dry-run', 'measure everything but write no version', false)
    .option('--json', "print the card's quantization section as JSON on stdout", false)
    .action(async (model: string, o: {
      repository: string; fromVersion?: number; calibration?: string; calibrationWindow?: TimeWindow; calibrationRows: number;
      evalWindow?: TimeWindow; evalRows: number; maxAucDrop: number; maxLayerAucDrop: number; threads: number; speedBatches: number[]; dryRun: boolean; json: boolean;
    }) => {
      try {
        // The quantizer loads when `quantize` runs, not with every command (issue 12).
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { quantizeVersion } = require('../quant/quantize') as typeof QuantizeModule;
        const result = await quantizeVersion({
          repository: path.resolve(o.repository), model, version: o.fromVersion,
          calibrationFile: o.calibration, calibrationWindow: o.calibrationWindow, calibrationRows: o.calibrationRows,
          evalWindow: o.evalWindow, evalRows: o.evalRows, maxAucDrop: o.maxAucDrop, maxLayerAucDrop: o.maxLayerAucDrop,
          threads: o.threads, speedBatches: o.speedBatches, dryRun: o.dryRun,
          log: o.json ? undefined : (line) => process.stderr.write(`${line}\n`),
        });
        if (o.json) process.stdout.write(JSON.stringify({ version: result.version, dir: result.dir, quantization: result.quantization }, null, 2) + '\n');
        else if (result.version !== null) {
          const ev = result.quantization.evaluation as { before: { auc: number; accuracy: number }; after: { auc: number; accuracy: number } };
          process.stdout.write(`${model} version ${result.version} written to ${result.dir}: AUC ${ev.before.auc.toFixed(4)} -> ${ev.after.auc.toFixed(4)}, accuracy ${ev.before.accuracy.toFixed(4)} -> ${ev.after.accuracy.toFixed(4)}\n`
            + `serve it natively with "backend": "native" in ${model}/model.json\n`);
        } else process.stdout.write('dry run: no version written\n');
        if (result.version !== null) process.stderr.write(`${registerCandidate({ repository: o.repository, registry: (o as { registry?: string }).registry }, model, result.version, 'quantize')}\n`);
      } catch (e) {
        process.stderr.write(`quantize: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
