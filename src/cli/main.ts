#!/usr/bin/env node
import { Command } from 'commander';
import { SERVER_VERSION } from '../server/server';
import { registerTrainCommand } from './train-command';
import { registerDriftCommand } from './drift-command';
import { registerQuantizeCommand } from './quantize-command';
import { registerBenchCommand } from './bench-command';
import { registerExampleCommand } from './example-command';
import { registerServeCommand } from './serve-command';
import { registerModelsCommand } from './models-command';
import { registerRunsCommand } from './runs-command';
import { registerScoreCommand } from './score-command';

const program = new Command();
program.name('infera').description('Infera model server and MLOps toolkit').version(SERVER_VERSION);

registerServeCommand(program);
registerTrainCommand(program);
registerDriftCommand(program);
registerQuantizeCommand(program);
registerBenchCommand(program);
registerExampleCommand(program);
registerModelsCommand(program);
registerRunsCommand(program);
registerScoreCommand(program);

program.parseAsync(process.argv).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
