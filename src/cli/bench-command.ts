/**
 * `infera bench <scenario> [options]`: the benchmark harness of bench/ (the same as
 * `npm run bench -- <scenario>`). Its options are parsed by the harness itself
 * (bench/lib/cli.ts), so commander passes everything after `bench` through untouched.
 */
import path from 'node:path';
import type { Command } from 'commander';

/** dist/bench/run.js, next to this file's dist/src/cli/. */
export const BENCH_ENTRY = path.resolve(__dirname, '../../bench/run.js');

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run a benchmark scenario against its peers (`infera bench --list`; options: `infera bench --help`)')
    .argument('[args...]', 'scenario and harness options')
    .helpOption(false)
    .allowUnknownOption(true)
    .action(async (args: string[]) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runBench } = require(BENCH_ENTRY) as { runBench(argv: string[]): Promise<number> };
      process.exitCode = await runBench(args);
    });
}
